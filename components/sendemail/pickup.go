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

// Deliver writes the email's file. Every file-system error is transient: a full disk, a missing mount
// or wrong permissions are the machine's problem, fixed by an operator, and must not mark emails as
// failed meanwhile.
func (p *PickupDirectory) Deliver(ctx context.Context, e Email) error {
	msg, err := e.Message()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o750); err != nil {
		return messagestore.Transient(fmt.Errorf("email directory: %w", err))
	}
	if err := writeFileAtomic(filepath.Join(p.Dir, e.ID+".eml"), msg); err != nil {
		return messagestore.Transient(err)
	}
	return nil
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
