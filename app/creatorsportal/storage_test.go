package creatorsportal

import (
	"errors"
	"io/fs"
	"net/http"
	"syscall"
	"testing"

	"videotutorials/app"
)

// A media directory that cannot take the upload is the server's condition, not a bug: full (ENOSPC,
// EDQUOT), mounted read-only (EROFS, a volume mounted :ro), or not writable by the program's user
// (EACCES, EPERM: a volume owned by root under the non-root container image). The creator is told the
// server cannot store videos right now (503) instead of getting the bug page (500); the cause is in the
// log. Found by uploading with MEDIA_DIRECTORY on a tmpfs remounted read-only.
func TestStorageFailuresOfTheMachineAre503(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM} {
		err := storageError(&fs.PathError{Op: "open", Path: "/media/uploads/.x.part", Err: errno})
		var e *app.Error
		if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Message == "" || !errors.Is(err, errno) {
			t.Errorf("%v: %#v, want a 503 with a message that wraps the cause", errno, err)
		}
	}
	// Anything else stays the server's unexpected failure (500), with its cause.
	err := storageError(&fs.PathError{Op: "rename", Path: "/media/uploads/x", Err: syscall.EXDEV})
	var e *app.Error
	if errors.As(err, &e) && e.Status != http.StatusInternalServerError {
		t.Errorf("EXDEV: %v, want a plain error (500)", err)
	}
}
