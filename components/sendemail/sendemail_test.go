package sendemail

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

var ctx = context.Background()

const sender = "Video Tutorials <noreply@videos.example>"

func TestContract(t *testing.T) {
	if err := Contract.Validate(); err != nil {
		t.Fatal(err)
	}
	c := New(Deps{Store: testdb.NewStore(t), Logger: testdb.Quiet, Transport: &PickupDirectory{Dir: t.TempDir()}, Sender: sender})
	subs := c.Subscriptions()
	if len(subs) != 1 || subs[0].SubscriberID != "components:send-email" || subs[0].Category != "sendEmail:command" ||
		subs[0].Handlers["Send"] == nil || Contract.Subscribes[0].SubscriberID != subs[0].SubscriberID {
		t.Fatalf("subscriptions %+v, contract %+v", subs, Contract.Subscribes)
	}
}

// sendCommand writes a Send as identity would, with the metadata a reply must echo.
func sendCommand(t *testing.T, s *messagestore.Store, to, subject string) (messagestore.Message, sendemailmsg.Send) {
	t.Helper()
	cmd := sendemailmsg.Send{EmailID: uuid.NewString(), To: to, Subject: subject,
		Text: "Hello " + to + ",\nwelcome!\n", HTML: "<p>Hello " + to + ",</p><p>welcome!</p>"}
	origin := "identity-" + uuid.NewString()
	m := testdb.Write(t, s, sendemailmsg.CommandStreamName(cmd.EmailID), cmd,
		messagestore.Metadata{TraceID: uuid.NewString(), OriginStreamName: origin, CorrelationStreamName: origin})
	return m, cmd
}

func emlFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSendDeliversOneFileAndRecordsSentOnce(t *testing.T) {
	s := testdb.NewStore(t)
	dir := filepath.Join(t.TempDir(), "email") // created on first delivery
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: &PickupDirectory{Dir: dir}, Sender: sender})
	m, cmd := sendCommand(t, s, "ada@example.com", "Welcome")
	for range 2 {
		if err := c.HandleSend(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if names := emlFiles(t, dir); !slices.Equal(names, []string{cmd.EmailID + ".eml"}) {
		t.Fatalf("pickup directory holds %v", names)
	}
	msgs := testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))
	if !slices.Equal(testdb.Types(msgs), []string{"Sent"}) {
		t.Fatalf("email stream: %v", testdb.Types(msgs))
	}
	var sent sendemailmsg.Sent
	if err := msgs[0].Decode(&sent); err != nil {
		t.Fatal(err)
	}
	want := sendemailmsg.Sent{EmailID: cmd.EmailID, To: cmd.To, From: sender, Subject: cmd.Subject, Text: cmd.Text, HTML: cmd.HTML}
	if sent != want {
		t.Errorf("Sent %+v, want %+v", sent, want)
	}
	md := msgs[0].Metadata
	if md.OriginStreamName != m.Metadata.OriginStreamName || md.CorrelationStreamName != m.Metadata.CorrelationStreamName ||
		md.TraceID != m.Metadata.TraceID || md.CausationMessageID != m.ID {
		t.Errorf("Sent metadata %+v does not follow from the command %+v", md, m.Metadata)
	}
}

func TestPickupFileIsAnRFC5322MultipartMessage(t *testing.T) {
	dir := t.TempDir()
	p := &PickupDirectory{Dir: dir}
	date := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	e := Email{ID: uuid.NewString(), From: "Vidéo Tutorials <noreply@videos.example>", To: "zoë@example.com",
		Subject: "Bienvenue, Zoë — welcome to Video Tutorials, a subject long enough to need more than one encoded word",
		Text:    "Hello Zoë,\nline with = sign and a very long line " + strings.Repeat("x", 120) + "\n",
		HTML:    `<p>Hello Zoë, <a href="https://videos.example/">watch</a></p>`, Date: date}
	if err := p.Deliver(ctx, e); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p.Path(e.ID))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d longer than 78 characters: %q", i, line)
		}
		if strings.Contains(line, "\n") {
			t.Errorf("bare LF in line %d", i)
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != e.Subject {
		t.Errorf("Subject %q decodes to %q (%v)", h.Get("Subject"), subject, err)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?") {
		t.Errorf("non-ASCII subject not RFC 2047 encoded: %q", h.Get("Subject"))
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "noreply@videos.example" || from[0].Name != "Vidéo Tutorials" {
		t.Errorf("From %q: %v %v", h.Get("From"), from, err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "zoë@example.com" {
		t.Errorf("To %q: %v %v", h.Get("To"), to, err)
	}
	if d, err := h.Date(); err != nil || !d.Equal(date) {
		t.Errorf("Date %q: %v %v", h.Get("Date"), d, err)
	}
	if got := h.Get("Message-ID"); got != "<"+e.ID+"@videos.example>" {
		t.Errorf("Message-ID %q", got)
	}
	if h.Get("MIME-Version") != "1.0" {
		t.Errorf("MIME-Version %q", h.Get("MIME-Version"))
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, cparams, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if cparams["charset"] != "utf-8" {
			t.Errorf("%s part has charset %q", ct, cparams["charset"])
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		parts[ct] = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	if parts["text/plain"] != e.Text || parts["text/html"] != e.HTML {
		t.Errorf("parts %q", parts)
	}

	// The same email renders to the same bytes (a redelivery rewrites an identical file).
	again, err := e.Message()
	if err != nil || string(again) != string(raw) {
		t.Errorf("rendering is not deterministic (%v)", err)
	}
}

func TestRedeliveryReplacesTheSameFile(t *testing.T) {
	dir := t.TempDir()
	p := &PickupDirectory{Dir: dir}
	e := Email{ID: uuid.NewString(), From: sender, To: "ada@example.com", Subject: "Hi", Text: "one", HTML: "<p>one</p>"}
	for _, text := range []string{"one", "two"} {
		e.Text = text
		if err := p.Deliver(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if names := emlFiles(t, dir); !slices.Equal(names, []string{e.ID + ".eml"}) {
		t.Fatalf("directory holds %v (temporary files left behind?)", names)
	}
	raw, _ := os.ReadFile(p.Path(e.ID))
	if !strings.Contains(string(raw), "\r\n\r\ntwo") {
		t.Errorf("file not replaced:\n%s", raw)
	}
}

func TestSubjectCannotInjectHeaders(t *testing.T) {
	e := Email{ID: uuid.NewString(), From: sender, To: "ada@example.com", Subject: "Hi\r\nBcc: eve@example.com", Text: "x"}
	raw, err := e.Message()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Fatalf("header injected:\n%s", raw)
	}
}

// fakeTransport fails as told and counts deliveries.
type fakeTransport struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (f *fakeTransport) Deliver(_ context.Context, e Email) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if _, err := e.Message(); err != nil {
		return err
	}
	return f.err
}

func TestPermanentDeliveryErrorRecordsFailedOnce(t *testing.T) {
	s := testdb.NewStore(t)
	tr := &fakeTransport{err: errors.New("smtp RCPT TO: 550 no such user")}
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: tr, Sender: sender})
	m, cmd := sendCommand(t, s, "nobody@example.com", "Welcome")
	for range 2 {
		if err := c.HandleSend(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if tr.calls != 1 {
		t.Errorf("delivered %d times after a permanent failure", tr.calls)
	}
	msgs := testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))
	if !slices.Equal(testdb.Types(msgs), []string{"Failed"}) {
		t.Fatalf("email stream: %v", testdb.Types(msgs))
	}
	var f sendemailmsg.Failed
	if err := msgs[0].Decode(&f); err != nil || f.Reason != "smtp RCPT TO: 550 no such user" || f.From != sender ||
		f.To != cmd.To || f.EmailID != cmd.EmailID || f.Text != cmd.Text {
		t.Errorf("Failed %+v (%v)", f, err)
	}
	if msgs[0].Metadata.OriginStreamName != m.Metadata.OriginStreamName {
		t.Errorf("Failed metadata %+v", msgs[0].Metadata)
	}
}

func TestInvalidRecipientFails(t *testing.T) {
	s := testdb.NewStore(t)
	dir := t.TempDir()
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: &PickupDirectory{Dir: dir}, Sender: sender})
	m, cmd := sendCommand(t, s, "not an address", "Welcome")
	if err := c.HandleSend(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs := testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))
	var f sendemailmsg.Failed
	if len(msgs) != 1 || msgs[0].Decode(&f) != nil || !strings.Contains(f.Reason, "invalid email address") {
		t.Fatalf("email stream %v: %+v", testdb.Types(msgs), f)
	}
	if names := emlFiles(t, dir); len(names) != 0 {
		t.Errorf("files written: %v", names)
	}
}

func TestTransientDeliveryErrorIsRetriedNotFailed(t *testing.T) {
	s := testdb.NewStore(t)
	tr := &fakeTransport{err: messagestore.Transient(errors.New("disk full"))}
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: tr, Sender: sender})
	m, cmd := sendCommand(t, s, "ada@example.com", "Welcome")
	err := c.HandleSend(ctx, m)
	if err == nil || !messagestore.IsTransient(err) {
		t.Fatalf("want a transient error for the subscription to retry, got %v", err)
	}
	if n := len(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))); n != 0 {
		t.Fatalf("recorded %d outcome(s) of a transient failure", n)
	}
	tr.err = nil // the disk has room again: the retry delivers
	if err := c.HandleSend(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))); !slices.Equal(got, []string{"Sent"}) {
		t.Fatalf("email stream: %v", got)
	}
}

func TestPickupDirectoryProblemsAreTransient(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &PickupDirectory{Dir: filepath.Join(file, "email")} // a directory inside a file cannot exist
	err := p.Deliver(ctx, Email{ID: uuid.NewString(), From: sender, To: "ada@example.com", Text: "x"})
	if err == nil || !messagestore.IsTransient(err) {
		t.Fatalf("want a transient error, got %v", err)
	}
}

func TestSendWithoutAValidEmailIDIsSkipped(t *testing.T) {
	s := testdb.NewStore(t)
	dir := t.TempDir()
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: &PickupDirectory{Dir: dir}, Sender: sender})
	m := testdb.Write(t, s, sendemailmsg.CommandStreamName("x"), sendemailmsg.Send{EmailID: "../../etc/passwd", To: "ada@example.com"},
		messagestore.Metadata{})
	if err := c.HandleSend(ctx, m); err != nil {
		t.Fatal(err)
	}
	if names := emlFiles(t, dir); len(names) != 0 {
		t.Errorf("files written: %v", names)
	}
}

func TestSendThroughTheSubscription(t *testing.T) {
	s := testdb.NewStore(t)
	dir := t.TempDir()
	c := New(Deps{Store: s, Logger: testdb.Quiet, Transport: &PickupDirectory{Dir: dir}, Sender: sender})
	var emailID string
	testdb.RunAtHead(t, s, c.Subscriptions()[0], func(m messagestore.Message) bool { return strings.HasSuffix(m.StreamName, emailID) })
	_, cmd := sendCommand(t, s, "ada@example.com", "Welcome")
	emailID = cmd.EmailID
	testdb.Eventually(t, 10*time.Second, "Sent", func() bool { return len(testdb.ReadStream(t, s, sendemailmsg.StreamName(cmd.EmailID))) == 1 })
	if names := emlFiles(t, dir); !slices.Equal(names, []string{cmd.EmailID + ".eml"}) {
		t.Fatalf("pickup directory holds %v", names)
	}
}

func TestNewTransport(t *testing.T) {
	tr, err := NewTransport("/var/mail/out", "")
	if p, ok := tr.(*PickupDirectory); err != nil || !ok || p.Dir != "/var/mail/out" {
		t.Errorf("pickup directory: %#v %v", tr, err)
	}
	for _, tc := range []struct {
		url, addr, user, pass string
		implicit              bool
	}{
		{"smtp://mail.example", "mail.example:587", "", "", false},
		{"smtp://ada:s%40cret@mail.example:2525", "mail.example:2525", "ada", "s@cret", false},
		{"smtps://mail.example", "mail.example:465", "", "", true},
	} {
		tr, err := NewTransport("/ignored", tc.url)
		s, ok := tr.(*SMTP)
		if err != nil || !ok || s.Addr != tc.addr || s.Host != "mail.example" || s.Username != tc.user ||
			s.Password != tc.pass || s.ImplicitTLS != tc.implicit {
			t.Errorf("%s: %#v %v", tc.url, tr, err)
		}
	}
	for _, bad := range []string{"http://mail.example", "smtp://", "smtp://%zz"} {
		if _, err := NewTransport("", bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := NewTransport("", ""); err == nil {
		t.Errorf("no transport configured, no error")
	}
}
