package watch_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/watch"
	"videotutorials/internal/testdb"
)

type fixture struct {
	b        *apptest.Browser
	mediaDir string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.NewPool(t)
	f := &fixture{mediaDir: t.TempDir()}
	f.b = apptest.NewBrowser(t, apptest.NewServer(t, app.Deps{}, watch.New(watch.Deps{Views: pool, MediaDir: f.mediaDir, Logger: testdb.Quiet})))
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
	testdb.InsertVideo(t, testdb.NewPool(t), testdb.VideoRow{ID: id, Owner: uuid.NewString(), Name: "Go <generics>", Description: "All about them",
		Status: "published", Views: 7, Transcoded: "file:videos/" + id + ".mp4", Poster: "file:posters/" + id + ".jpg"})
	return id, content
}

func TestWatchPage(t *testing.T) {
	f := setup(t)
	id, _ := f.published(t, 1000)
	rec := f.b.Get("/videos/" + id)
	apptest.WantStatus(t, rec, http.StatusOK)
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
	pool := testdb.NewPool(t)
	processing, failed, viewedOnly := uuid.NewString(), uuid.NewString(), uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: processing, Owner: uuid.NewString(), Status: "processing"})
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: failed, Owner: uuid.NewString(), Status: "failed", Transcoded: "file:videos/x.mp4"})
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: viewedOnly, Views: 3})
	for _, id := range []string{uuid.NewString(), processing, failed, viewedOnly} {
		for _, suffix := range []string{"", "/file", "/poster"} {
			apptest.WantStatus(t, f.b.Get("/videos/"+id+suffix), http.StatusNotFound)
		}
	}
	for _, path := range []string{"/videos/not-a-uuid", "/videos/..%2f..%2fetc%2fpasswd/file", "/videos/" + strings.ToUpper(uuid.NewString())[:35] + "/file"} {
		apptest.WantStatus(t, f.b.Get(path), http.StatusBadRequest)
	}
}

func TestVideoFileWithRangeRequests(t *testing.T) {
	f := setup(t)
	id, content := f.published(t, 10000)
	path := "/videos/" + id + "/file"

	rec := f.b.Get(path)
	apptest.WantStatus(t, rec, http.StatusOK)
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
		rec := f.b.Do(req)
		if rec.Code != http.StatusPartialContent || rec.Header().Get("Content-Range") != tc.contentRange ||
			!bytes.Equal(rec.Body.Bytes(), content[tc.from:tc.to]) ||
			rec.Header().Get("Content-Length") != fmt.Sprint(tc.to-tc.from) {
			t.Errorf("%s: %d %q, %d bytes", tc.rng, rec.Code, rec.Header().Get("Content-Range"), rec.Body.Len())
		}
	}
	// A range in a unit other than bytes is ignored: the whole file (RFC 9110, 14.2).
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Range", "items=0-1")
	if rec := f.b.Do(req); rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), content) {
		t.Errorf("range in another unit: %d, %d bytes; want the whole file", rec.Code, rec.Body.Len())
	}
	req = httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Range", "bytes=20000-")
	if rec := f.b.Do(req); rec.Code != http.StatusRequestedRangeNotSatisfiable || rec.Header().Get("Content-Range") != "bytes */10000" {
		t.Errorf("unsatisfiable range: %d %q", rec.Code, rec.Header().Get("Content-Range"))
	}
	rec = f.b.Do(httptest.NewRequest(http.MethodHead, path, nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "10000" {
		t.Errorf("HEAD: %d, %d bytes, length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
	rec = f.b.Get("/videos/" + id + "/poster")
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
	pool := testdb.NewPool(t)
	for _, uri := range []string{"file:../secret.txt", "file:" + secret, "file:videos/../../secret.txt", secret} {
		id := uuid.NewString()
		testdb.InsertVideo(t, pool, testdb.VideoRow{ID: id, Owner: uuid.NewString(), Status: "published", Transcoded: uri})
		rec := f.b.Get("/videos/" + id + "/file")
		if rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), "top secret") {
			t.Errorf("%s: served (%d)", uri, rec.Code)
		}
	}
	// A URI that names no file of the media directory (another client's VideoPublished with no
	// URI, or with one of its own) has nothing to serve: 404, not the bug page.
	for _, uri := range []string{"", "https://cdn.example/v.mp4", "file:../secret.txt"} {
		id := uuid.NewString()
		testdb.InsertVideo(t, pool, testdb.VideoRow{ID: id, Owner: uuid.NewString(), Status: "published", Transcoded: uri})
		apptest.WantStatus(t, f.b.Get("/videos/"+id+"/file"), http.StatusNotFound)
	}
	// A published video whose file is gone is a 404, not a crash.
	id := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: id, Owner: uuid.NewString(), Status: "published", Transcoded: "file:videos/" + id + ".mp4"})
	apptest.WantStatus(t, f.b.Get("/videos/"+id+"/file"), http.StatusNotFound)
	apptest.WantStatus(t, f.b.Get("/videos/"+id+"/poster"), http.StatusNotFound)
}

// The video index lists every published video, the latest upload first, 24 a page, with links to
// the older and the latest pages. Its videos are uploaded in the year 3000, so that they come before
// those of every other test sharing the database.
func TestVideoIndexPagesThroughThePublishedVideos(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	ctx := context.Background()
	ids := make([]string, 30) // ids[0] is the latest upload
	for i := range ids {
		ids[i] = uuid.NewString()
		testdb.InsertVideo(t, pool, testdb.VideoRow{ID: ids[i], Owner: uuid.NewString(), Name: fmt.Sprintf("Index video %02d", i), Status: "published"})
		if _, err := pool.Exec(ctx, `UPDATE creators_portal_videos SET uploaded_at = '3000-01-01'::timestamptz - make_interval(secs => $2) WHERE id = $1`,
			ids[i], i); err != nil {
			t.Fatal(err)
		}
	}
	hidden := uuid.NewString() // not published: never listed
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: hidden, Owner: uuid.NewString(), Status: "processing"})

	order := func(body string, want []string) {
		t.Helper()
		at := -1
		for _, id := range want {
			i := strings.Index(body, `href="/videos/`+id+`"`)
			if i < 0 || i < at {
				t.Fatalf("video %s missing or out of order", id)
			}
			at = i
		}
	}
	first := f.b.Get("/videos")
	apptest.WantStatus(t, first, http.StatusOK)
	body := first.Body.String()
	order(body, ids[:24])
	if strings.Contains(body, ids[24]) || strings.Contains(body, hidden) {
		t.Fatal("the first page lists more than 24 videos, or an unpublished one")
	}
	older := `href="/videos?after=` + ids[23] + `" rel="next"`
	if !strings.Contains(body, older) || strings.Contains(body, "Latest videos") {
		t.Fatalf("the first page's links: want %s and no link to the latest", older)
	}
	second := f.b.Get("/videos?after=" + ids[23])
	apptest.WantStatus(t, second, http.StatusOK)
	body = second.Body.String()
	order(body, ids[24:])
	if strings.Contains(body, `href="/videos/`+ids[23]+`"`) || !strings.Contains(body, `href="/videos">Latest videos`) {
		t.Fatal("the second page repeats the first page's last video, or does not link the latest")
	}
	for _, bad := range []string{"/videos?after=not-a-uuid", "/videos?after=" + ids[0] + "x"} {
		apptest.WantStatus(t, f.b.Get(bad), http.StatusBadRequest)
	}
	// A page after a video nobody published is empty, and says so.
	gone := f.b.Get("/videos?after=" + uuid.NewString())
	apptest.WantStatus(t, gone, http.StatusOK)
	if !strings.Contains(gone.Body.String(), "No more videos.") {
		t.Fatal("the page after an unknown video does not say there are no more")
	}
}
