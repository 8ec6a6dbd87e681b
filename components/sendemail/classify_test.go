package sendemail

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// A permanent refusal is recorded as Failed whatever its text says. messagestore.IsTransient reads
// "failed to connect" or "connection reset" as a lost database connection; the transport's verdict,
// not that guess, decides what a delivery error is.
func TestPermanentSMTPRefusalIsFailedWhateverItsText(t *testing.T) {
	for _, reply := range []string{
		"550 5.7.1 Sender verify failed to connect to your mail server",
		"554 5.7.1 connection reset policy: message refused",
	} {
		f := startFakeSMTP(t)
		s := testdb.NewStore(t)
		c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: smtpTransport(t, f, ""), Sender: sender})
		f.reply(reply)
		m, cmd := sendCommand(t, s, "nobody@example.com", "Welcome")
		if err := c.HandleSend(ctx, m); err != nil {
			t.Fatalf("%q: %v, want Failed recorded", reply, err)
		}
		msgs := testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))
		var failed sendemailmsg.Failed
		if len(msgs) != 1 || msgs[0].Decode(&failed) != nil || !strings.Contains(failed.Reason, reply[:3]) {
			t.Fatalf("%q: email stream %v: %+v", reply, testdb.Types(msgs), failed)
		}
	}
}

// An unmarked error is the transport saying "never": it is recorded as Failed even when it looks
// like a file or network error, which the transports of this package mark when they mean "later".
func TestUnmarkedDeliveryErrorIsFailed(t *testing.T) {
	s := testdb.NewStore(t)
	tr := &fakeTransport{err: errors.New("relay: connection reset by policy: recipient domain blocked")}
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: tr, Sender: sender})
	m, cmd := sendCommand(t, s, "ada@example.com", "Welcome")
	if err := c.HandleSend(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))); !slices.Equal(got, []string{"Failed"}) {
		t.Fatalf("email stream: %v", got)
	}
}

// A pickup directory that cannot be written is retried, not Failed — through the component, with the
// file-system error as the cause — and the email is delivered once the directory is fixed.
func TestPickupDirectoryProblemIsRetriedUntilFixed(t *testing.T) {
	s := testdb.NewStore(t)
	root := t.TempDir()
	dir := filepath.Join(root, "emails")
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // a file where the directory should be
		t.Fatal(err)
	}
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: &PickupDirectory{Dir: dir}, Sender: sender})
	m, cmd := sendCommand(t, s, "ada@example.com", "Welcome")
	err := c.HandleSend(ctx, m)
	var pathErr *fs.PathError
	if err == nil || !messagestore.IsTransient(err) || !errors.As(err, &pathErr) {
		t.Fatalf("want a transient error caused by the file system, got %v", err)
	}
	if n := len(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))); n != 0 {
		t.Fatalf("recorded %d outcome(s) of a pickup directory problem", n)
	}
	if err := os.Remove(dir); err != nil { // the operator fixes it
		t.Fatal(err)
	}
	if err := c.HandleSend(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))); !slices.Equal(got, []string{"Sent"}) {
		t.Fatalf("email stream: %v", got)
	}
	if names := emlFiles(t, dir); len(names) != 1 || names[0] != cmd.EmailID+".eml" {
		t.Errorf("pickup directory: %v", names)
	}
}

// The pickup transport's classification of file-system errors (see pickupError).
func TestPickupErrorClassification(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EACCES,
		syscall.EPERM, syscall.ENOENT, syscall.ENOTDIR, syscall.EROFS, syscall.EMFILE} {
		err := pickupError("write email file", &fs.PathError{Op: "write", Path: "/var/mail/x.eml", Err: errno})
		if !messagestore.IsMarkedTransient(err) || !errors.Is(err, errno) || !strings.Contains(err.Error(), "write email file") {
			t.Errorf("%v: %v (marked %v), want a marked error wrapping the cause with its step", errno, err, messagestore.IsMarkedTransient(err))
		}
	}
}
