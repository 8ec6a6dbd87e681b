package videopublishingmsg

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestResolveMediaURI(t *testing.T) {
	dir := t.TempDir()
	good := map[string]string{
		"file:uploads/a.mp4": filepath.Join(dir, "uploads", "a.mp4"),
		"file:videos/b.mp4":  filepath.Join(dir, "videos", "b.mp4"),
	}
	for uri, want := range good {
		if got, err := ResolveMediaURI(dir, uri); err != nil || got != want {
			t.Errorf("%s → %q, %v; want %q", uri, got, err, want)
		}
	}
	for _, uri := range []string{"", "file:", "uploads/a.mp4", "http://x/a.mp4", "file:/etc/passwd", "file:../x",
		"file:uploads/../../x", "file:uploads/./a", "file:uploads//a", "file:uploads\\..\\x", "file:a\x00b", "file:.."} {
		if got, err := ResolveMediaURI(dir, uri); !errors.Is(err, ErrBadMediaURI) {
			t.Errorf("%q resolved to %q (%v)", uri, got, err)
		}
	}
}
