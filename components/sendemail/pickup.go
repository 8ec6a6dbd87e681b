package sendemail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"videotutorials/messagestore"
)

// PickupDirectory delivers emails as files: <emailId>.eml in Dir, one RFC 5322 message each, as a
// mail server's pickup directory expects and as any mail program opens. It is the default transport:
// in development the emails can be read without a mail server.
//
// A file appears whole or not at all (it is written to a temporary file in the same directory, synced
// and renamed), and delivering an email again replaces its file, so each email is one file however
// often it is delivered.
type PickupDirectory struct {
	Dir string
}

// Deliver writes the email's file. Every file-system error is transient (see pickupError).
func (p *PickupDirectory) Deliver(ctx context.Context, e Email) error {
	msg, err := e.Message()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o750); err != nil {
		return pickupError("email directory", err)
	}
	if err := writeFileAtomic(filepath.Join(p.Dir, e.ID+".eml"), msg); err != nil {
		return pickupError("write email file", err)
	}
	return nil
}

// pickupError marks a file-system error of the pickup directory as transient, whatever its errno.
//
// A permanent delivery error is recorded as Failed: the email is given up for good and shown to
// admins as undeliverable. That is right when the email itself is at fault (an address the server
// refuses), and nothing of the email can make a file-system operation fail here — the file is named
// by a validated UUID and its content is bytes. What fails is the machine: ENOSPC and EDQUOT (a full
// disk or quota), EIO, EMFILE go away by themselves; EACCES/EPERM (wrong owner or mode), ENOENT and
// ENOTDIR (a volume not mounted, a path mistyped), EROFS (a read-only remount) need an operator, and
// are the same for every email meanwhile. Treating them as permanent would mark every email sent
// until the fix as Failed and never send it; treating them as transient holds the emails back
// (the subscription shows the error while it retries) and sends each of them once the directory
// works. videopublishing treats its media directory the same way.
func pickupError(step string, err error) error {
	return messagestore.Transient(fmt.Errorf("%s: %w", step, err))
}

// Path is the file of an email.
func (p *PickupDirectory) Path(emailID string) string { return filepath.Join(p.Dir, emailID+".eml") }

func writeFileAtomic(name string, data []byte) (err error) {
	dir, base := filepath.Split(name)
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o640); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return err
	}
	// Make the rename itself durable; a file system that cannot sync a directory still has the file.
	if d, derr := os.Open(filepath.Clean(dir)); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
