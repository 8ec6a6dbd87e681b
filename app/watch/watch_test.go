package watch_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/watch"
)

type fixture struct {
	b        *browser
	mediaDir string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	pool := newPool(t)
	f := &fixture{mediaDir: t.TempDir()}
	f.b = newBrowser(t, newServer(t, watch.New(watch.Deps{Views: pool, MediaDir: f.mediaDir, Logger: quiet})))
	return f
}

// published makes a published video with a file of size bytes and a poster.
func (f *fixture) published(t *testing.T, size int) (string, []byte) {
	t.Helper()
	id := uuid.NewString()
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i % 251)
	}
	for rel, b := range map[string][]byte{"videos/" + id + ".mp4": content, "posters/" + id + ".jpg": []byte("\xff\xd8\xff poster")} {
		p := filepath.Join(f.mediaDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	insertVideo(t, newPool(t), videoRow{id: id, owner: uuid.NewString(), name: "Go <generics>", description: "All about them",
		status: "published", views: 7, transcoded: "file:videos/" + id + ".mp4", poster: "file:posters/" + id + ".jpg"})
	return id, content
}

func TestWatchPage(t *testing.T) {
	f := setup(t)
	id, _ := f.published(t, 1000)
	rec := f.b.get("/videos/" + id)
	wantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, s := range []string{`<video id="watch-player"`, `poster="/videos/` + id + `/poster"`,
		`<source src="/videos/` + id + `/file" type="video/mp4">`, "Go &lt;generics&gt;", "All about them", "7 views",
		`data-record-viewing="/record-viewing/` + id + `"`, `data-csrf-token="`, `/static/watch.`} {
		if !strings.Contains(body, s) {
			t.Errorf("watch page lacks %q", s)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("inline script on the watch page")
	}
}

func TestWatchPageOfUnknownOrUnpublishedVideos(t *testing.T) {
	f := setup(t)
	pool := newPool(t)
	processing, failed, viewedOnly := uuid.NewString(), uuid.NewString(), uuid.NewString()
	insertVideo(t, pool, videoRow{id: processing, owner: uuid.NewString(), status: "processing"})
	insertVideo(t, pool, videoRow{id: failed, owner: uuid.NewString(), status: "failed", transcoded: "file:videos/x.mp4"})
	insertVideo(t, pool, videoRow{id: viewedOnly, views: 3})
	for _, id := range []string{uuid.NewString(), processing, failed, viewedOnly} {
		for _, suffix := range []string{"", "/file", "/poster"} {
			wantStatus(t, f.b.get("/videos/"+id+suffix), http.StatusNotFound)
		}
	}
	for _, path := range []string{"/videos/not-a-uuid", "/videos/..%2f..%2fetc%2fpasswd/file", "/videos/" + strings.ToUpper(uuid.NewString())[:35] + "/file"} {
		wantStatus(t, f.b.get(path), http.StatusBadRequest)
	}
}

func TestVideoFileWithRangeRequests(t *testing.T) {
	f := setup(t)
	id, content := f.published(t, 10000)
	path := "/videos/" + id + "/file"

	rec := f.b.get(path)
	wantStatus(t, rec, http.StatusOK)
	if !bytes.Equal(rec.Body.Bytes(), content) || rec.Header().Get("Content-Type") != "video/mp4" ||
		rec.Header().Get("Accept-Ranges") != "bytes" || rec.Header().Get("Content-Length") != "10000" {
		t.Errorf("full response: %d bytes, headers %v", rec.Body.Len(), rec.Header())
	}
	for _, tc := range []struct {
		rng, contentRange string
		from, to          int
	}{
		{"bytes=100-199", "bytes 100-199/10000", 100, 200},
		{"bytes=9990-", "bytes 9990-9999/10000", 9990, 10000},
		{"bytes=-10", "bytes 9990-9999/10000", 9990, 10000},
		{"bytes=0-0", "bytes 0-0/10000", 0, 1},
		{"bytes=5000-20000", "bytes 5000-9999/10000", 5000, 10000},
	} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Range", tc.rng)
		rec := f.b.do(req)
		if rec.Code != http.StatusPartialContent || rec.Header().Get("Content-Range") != tc.contentRange ||
			!bytes.Equal(rec.Body.Bytes(), content[tc.from:tc.to]) ||
			rec.Header().Get("Content-Length") != fmt.Sprint(tc.to-tc.from) {
			t.Errorf("%s: %d %q, %d bytes", tc.rng, rec.Code, rec.Header().Get("Content-Range"), rec.Body.Len())
		}
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Range", "bytes=20000-")
	if rec := f.b.do(req); rec.Code != http.StatusRequestedRangeNotSatisfiable || rec.Header().Get("Content-Range") != "bytes */10000" {
		t.Errorf("unsatisfiable range: %d %q", rec.Code, rec.Header().Get("Content-Range"))
	}
	rec = f.b.do(httptest.NewRequest(http.MethodHead, path, nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "10000" {
		t.Errorf("HEAD: %d, %d bytes, length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
	rec = f.b.get("/videos/" + id + "/poster")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/jpeg" || !strings.HasPrefix(rec.Body.String(), "\xff\xd8\xff") {
		t.Errorf("poster: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func TestFilesOutsideTheMediaDirectoryAreNeverServed(t *testing.T) {
	f := setup(t)
	secret := filepath.Join(filepath.Dir(f.mediaDir), "secret.txt")
	if err := os.WriteFile(secret, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := newPool(t)
	for _, uri := range []string{"file:../secret.txt", "file:" + secret, "file:videos/../../secret.txt", secret} {
		id := uuid.NewString()
		insertVideo(t, pool, videoRow{id: id, owner: uuid.NewString(), status: "published", transcoded: uri})
		rec := f.b.get("/videos/" + id + "/file")
		if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "top secret") {
			t.Errorf("%s: served (%d)", uri, rec.Code)
		}
	}
	// A published video whose file is gone is a 404, not a crash.
	id := uuid.NewString()
	insertVideo(t, pool, videoRow{id: id, owner: uuid.NewString(), status: "published", transcoded: "file:videos/" + id + ".mp4"})
	wantStatus(t, f.b.get("/videos/"+id+"/file"), http.StatusNotFound)
	wantStatus(t, f.b.get("/videos/"+id+"/poster"), http.StatusNotFound)
}
