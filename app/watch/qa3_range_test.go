package watch_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A range the video file cannot satisfy (past its end, or one that does not parse) is answered like
// every other error of the site: the error page with the status (416), the Content-Range that tells
// the file's length, and not the one-line text/plain of net/http that a browser showed as a bare
// "invalid range: failed to overlap". The page is never cached: the file's own Cache-Control does
// not apply to it.
func TestUnsatisfiableRangeIsTheErrorPage(t *testing.T) {
	f := setup(t)
	id, _ := f.published(t, 10000)
	path := "/videos/" + id + "/file"
	for _, rng := range []string{"bytes=20000-", "bytes=10000-10001", "bytes=abc", "bytes=50-10"} {
		t.Run(rng, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Range", rng)
			req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
			rec := f.b.Do(req)
			if rec.Code != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("status %d, want 416", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want the HTML error page", ct)
			}
			body := rec.Body.String()
			if !strings.Contains(body, `<main`) || !strings.Contains(body, "416") || !strings.Contains(body, "Go to the home page") {
				t.Errorf("not the site's error page:\n%s", body)
			}
			if strings.Contains(body, "failed to overlap") || strings.Contains(body, "invalid range") {
				t.Errorf("net/http's text leaks into the page:\n%s", body)
			}
			if strings.Contains(body, "unexpected error happened on our side") {
				t.Errorf("a refused range is told as a bug of ours:\n%s", body)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if rng == "bytes=20000-" || rng == "bytes=10000-10001" {
				if cr := rec.Header().Get("Content-Range"); cr != "bytes */10000" {
					t.Errorf("Content-Range %q, want bytes */10000", cr)
				}
			}
		})
	}
	// HEAD gets the status too (net/http drops the body of a HEAD answer).
	req := httptest.NewRequest(http.MethodHead, path, nil)
	req.Header.Set("Range", "bytes=20000-")
	if rec := f.b.Do(req); rec.Code != http.StatusRequestedRangeNotSatisfiable || rec.Header().Get("Content-Range") != "bytes */10000" {
		t.Errorf("HEAD: %d %q, want 416 with bytes */10000", rec.Code, rec.Header().Get("Content-Range"))
	}
}
