package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRawGetter reads fixed-length, chunked and Connection: close answers over one connection
// where it can, and keeps (and drops) the session cookie as a browser would.
func TestRawGetter(t *testing.T) {
	var n int
	var cookies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		cookies = append(cookies, r.Header.Get("Cookie"))
		switch n {
		case 1:
			http.SetCookie(w, &http.Cookie{Name: sessionCookieName, Value: "abc.def", Path: "/", HttpOnly: true})
			w.Header().Set("Content-Length", "5")
			fmt.Fprint(w, "hello")
		case 2:
			w.(http.Flusher).Flush() // chunked
			fmt.Fprint(w, strings.Repeat("x", 3000))
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "yz")
		case 3:
			http.SetCookie(w, &http.Cookie{Name: sessionCookieName, MaxAge: -1})
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "gone")
		default:
			fmt.Fprint(w, "again")
		}
	}))
	defer srv.Close()
	g, err := NewRawGetter(srv.URL, "/", true)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	want := []struct{ status, n int }{{200, 5}, {200, 3002}, {404, 4}, {200, 5}}
	for i, w := range want {
		status, got, err := g.Get(context.Background())
		if err != nil || status != w.status || got != w.n {
			t.Fatalf("request %d: status %d, %d bytes, %v; want %d, %d bytes", i+1, status, got, err, w.status, w.n)
		}
	}
	wantCookies := []string{"", sessionCookieName + "=abc.def", sessionCookieName + "=abc.def", ""}
	if strings.Join(cookies, "|") != strings.Join(wantCookies, "|") {
		t.Errorf("cookies sent %q, want %q", cookies, wantCookies)
	}

	anon, err := NewRawGetter(srv.URL, "/", false)
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	n, cookies = 0, nil
	for range 2 {
		if _, _, err := anon.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if cookies[1] != "" {
		t.Errorf("a getter without cookies sent %q", cookies[1])
	}
}

// TestRawPoster sends a POST with the cookie, the CSRF token and an empty form, reads the 303 and
// its trace id, and keeps a renewed session cookie.
func TestRawPoster(t *testing.T) {
	type seen struct{ method, path, cookie, token, ctype, length string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Cookie"), r.Header.Get("X-CSRF-Token"),
			r.Header.Get("Content-Type"), fmt.Sprint(r.ContentLength)})
		if len(got) == 1 {
			http.SetCookie(w, &http.Cookie{Name: sessionCookieName, Value: "renewed", Path: "/"})
		}
		w.Header().Set("X-Trace-Id", fmt.Sprintf("trace-%d", len(got)))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	defer srv.Close()
	p, err := NewRawPoster(srv.URL, "/record-viewing/v1", sessionCookieName+"=first", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 1; i <= 2; i++ {
		status, _, err := p.Get(context.Background())
		if err != nil || status != http.StatusSeeOther || p.Trace() != fmt.Sprintf("trace-%d", i) {
			t.Fatalf("post %d: status %d, trace %q, %v", i, status, p.Trace(), err)
		}
	}
	want := []seen{
		{"POST", "/record-viewing/v1", sessionCookieName + "=first", "tok", "application/x-www-form-urlencoded", "0"},
		{"POST", "/record-viewing/v1", sessionCookieName + "=renewed", "tok", "application/x-www-form-urlencoded", "0"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("server saw %+v, want %+v", got, want)
	}
}
