package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"videotutorials/templates"
)

// A range of a static asset past its end is the site's 416 error page, as for a video file, and is not
// cached for a year like the asset it names.
func TestStaticAssetUnsatisfiableRangeIsTheErrorPage(t *testing.T) {
	h := probe(t)
	path := templates.AssetPath("app.css")
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Range", "bytes=99999999-")
	req.Header.Set("Accept", "text/html")
	rec := h.do(req)
	if rec.Code != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("status %d, want 416", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want the HTML error page", ct)
	}
	if body := rec.Body.String(); !strings.Contains(body, "<main") || strings.Contains(body, "failed to overlap") {
		t.Errorf("not the site's error page:\n%s", body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if cr := rec.Header().Get("Content-Range"); !strings.HasPrefix(cr, "bytes */") {
		t.Errorf("Content-Range %q, want the asset's length", cr)
	}
	// A satisfiable range is still served.
	req = httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Range", "bytes=0-9")
	if rec := h.do(req); rec.Code != http.StatusPartialContent || rec.Body.Len() != 10 {
		t.Errorf("bytes=0-9: %d with %d bytes, want 206 with 10", rec.Code, rec.Body.Len())
	}
}
