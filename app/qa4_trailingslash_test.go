package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"videotutorials/app"
)

// A page's path with a slash added (/videos/, /register/, /admin/users/ — typed, pasted, or
// completed by a browser) was "Page not found", while /creators-portal without its slash was
// redirected. A GET or HEAD that routing finds no page for, whose path without the final slash is a
// page, is sent there (the query kept); anything else is the 404 it was.
func TestAPagePathWithATrailingSlashRedirectsToThePage(t *testing.T) {
	h := probe(t)
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	send := func(method, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		req.Header.Set("Accept", "text/html")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		return h.do(req)
	}
	for _, tc := range []struct {
		method, target string
		signedIn       bool
		status         int
		location       string
	}{
		{http.MethodGet, "/t/trace/", false, http.StatusMovedPermanently, "/t/trace"},
		{http.MethodHead, "/t/trace/", false, http.StatusMovedPermanently, "/t/trace"},
		{http.MethodGet, "/t/trace/?a=1&b=%2F", false, http.StatusMovedPermanently, "/t/trace?a=1&b=%2F"},
		// Inside a group: its middleware runs first (an anonymous visitor is sent to log in).
		{http.MethodGet, "/t/private/area/", true, http.StatusMovedPermanently, "/t/private/area"},
		{http.MethodGet, "/t/private/area/", false, http.StatusSeeOther, app.LoginPath + "?next=%2Ft%2Fprivate%2Farea%2F"},
		// No page without the slash either, or not a GET: the 404 it was.
		{http.MethodGet, "/no/such/route/", false, http.StatusNotFound, ""},
		{http.MethodGet, "/t/private/nope/", true, http.StatusNotFound, ""},
		{http.MethodPost, "/t/form/", false, http.StatusNotFound, ""},
		{http.MethodGet, "/t/trace//", false, http.StatusNotFound, ""},
		// Another site, were the slash taken off: never.
		{http.MethodGet, "//t/trace/", false, http.StatusNotFound, ""},
	} {
		var cookies []*http.Cookie
		if tc.signedIn {
			cookies = append(cookies, signedIn)
		}
		rec := send(tc.method, tc.target, cookies...)
		if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s %s (signed in %v): %d to %q, want %d to %q", tc.method, tc.target, tc.signedIn,
				rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
		}
		if tc.status == http.StatusNotFound && !strings.Contains(body(rec), "Page not found") && tc.method != http.MethodHead {
			t.Errorf("%s %s: not the 404 page", tc.method, tc.target)
		}
	}
}
