package recordviewings

import (
	"net/http/httptest"
	"strings"
	"testing"

	"videotutorials/app"
)

// The fuzz tests of the record-viewing URL and its redirect. Plain `go test` runs the seeds; fuzz with
// `go test ./app/recordviewings -fuzz FuzzRecordViewingRequest`.

func FuzzRecordViewingRequest(f *testing.F) {
	for _, seed := range []struct{ videoID, host, referer string }{
		{"8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11", "example.com", "http://example.com/videos/8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11"},
		{"8D0F4A8E-2F43-4C5E-9A86-6C0FBB7A4F11", "example.com", "/"},
		{"8d0f4a8e2f434c5e9a866c0fbb7a4f11", "example.com", "https://evil.example/phish"},
		{"not-a-uuid", "example.com", "//evil.example/x"},
		{"", "example.com", "/\\evil.example"},
		{"{8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11}", "example.com", "javascript:alert(1)"},
		{"8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f1%", "example.com", "http://user:pw@example.com/"},
		{"8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11", "example.com", "http://example.com//evil.example/"},
		{"8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11", "example.com", "/%0d%0aSet-Cookie:%20x=y"},
	} {
		f.Add(seed.videoID, seed.host, seed.referer)
	}
	f.Fuzz(func(t *testing.T, videoID, host, referer string) {
		if id, ok := app.ParseID(videoID); ok {
			if len(id) != 36 || id != strings.ToLower(id) {
				t.Fatalf("app.ParseID(%q) = %q", videoID, id)
			}
		}
		req := httptest.NewRequest("POST", "/record-viewing/x", nil)
		req.Host = host
		req.Header.Set("Referer", referer)
		if to := backTo(req); !app.IsLocalPath(to) {
			t.Fatalf("backTo(Referer %q, Host %q) = %q: not a local path", referer, host, to)
		}
	})
}
