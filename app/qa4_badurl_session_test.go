package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A request whose path or query is not text (invalid UTF-8, NUL) is refused with 400 before the
// body is read; the page was rendered without the visitor's session, so a signed-in visitor saw
// "Log in" and "Register" in its header, as if they had been logged out.
func TestBadAddressPageKeepsTheSignedInVisitorSignedIn(t *testing.T) {
	h := probe(t)
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	for _, target := range []string{"/t/trace?x=%ff", "/t/%ff", "/t/trace?x=%00"} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept", "text/html")
		req.AddCookie(signedIn)
		rec := h.do(req)
		page := body(rec)
		if rec.Code != http.StatusBadRequest || !strings.Contains(page, "not allowed") {
			t.Fatalf("GET %s: status %d, want the 400 page\n%.300s", target, rec.Code, page)
		}
		if !strings.Contains(page, `action="/auth/log-out"`) || strings.Contains(page, `href="/auth/log-in"`) {
			t.Errorf("GET %s signed in: the 400 page's header is a signed-out visitor's", target)
		}
	}
}
