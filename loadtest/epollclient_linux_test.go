package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEpollGetter runs the event loops against a server: every answer is read whole (headers and
// a body larger than one read, over keep-alive connections), the session cookie an answer sets is
// sent from then on, and answers it cannot read (chunked, a wrong status) count as errors.
func TestEpollGetter(t *testing.T) {
	var mu sync.Mutex
	var requests int
	var withCookie, chunkedSent bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		if r.Header.Get("Cookie") == sessionCookieName+"=abc" {
			withCookie = true
		}
		mu.Unlock()
		if r.URL.Path == "/chunked" {
			mu.Lock()
			chunkedSent = true
			mu.Unlock()
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "x")
			return
		}
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookieName, Value: "abc", Path: "/"})
		body := strings.Repeat("y", 100_000) // more than one read
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	g, err := NewEpollGetter([]string{srv.URL}, "/", 4, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Run(context.Background(), "test", 50*time.Millisecond, 300*time.Millisecond, nil)
	if r.OK == 0 || r.Errors != 0 || len(r.Latencies) != int(r.OK) || r.Conns != 4 {
		t.Fatalf("ok %d, errors %d (%s), %d latencies, %d connections", r.OK, r.Errors, r.FirstErr, len(r.Latencies), r.Conns)
	}
	// A second run (the next round of a comparison) reuses the connections.
	if r := g.Run(context.Background(), "test", 0, 100*time.Millisecond, nil); r.OK == 0 || r.Errors != 0 {
		t.Fatalf("second run: ok %d, errors %d (%s)", r.OK, r.Errors, r.FirstErr)
	}
	mu.Lock()
	if !withCookie {
		t.Error("the session cookie was never sent back")
	}
	mu.Unlock()

	for path, want := range map[string]string{"/chunked": "Transfer-Encoding", "/missing": "status 404"} {
		bad, err := NewEpollGetter([]string{srv.URL}, path, 1, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		r := bad.Run(context.Background(), "bad", 0, 100*time.Millisecond, nil)
		if r.OK != 0 || r.Errors == 0 || !strings.Contains(r.FirstErr, want) {
			t.Errorf("%s: ok %d, errors %d, first error %q; want errors mentioning %q", path, r.OK, r.Errors, r.FirstErr, want)
		}
	}
	if !chunkedSent {
		t.Error("the chunked answer was never asked for")
	}
}

// TestEpollPoster records viewings as Viewer.Op does: each connection posts its viewer's video with
// the viewer's cookie and CSRF token, every 303 appends its trace id to the viewer's Traces in order,
// and a renewed session cookie is sent from then on.
func TestEpollPoster(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // path → the cookie of each request
	count := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("X-CSRF-Token") != "tok-"+r.URL.Path || r.ContentLength != 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		seen[r.URL.Path] = append(seen[r.URL.Path], r.Header.Get("Cookie"))
		count[r.URL.Path]++
		if count[r.URL.Path] == 1 {
			http.SetCookie(w, &http.Cookie{Name: sessionCookieName, Value: "renewed", Path: "/"})
		}
		w.Header().Set("X-Trace-Id", fmt.Sprintf("%s#%d", r.URL.Path, count[r.URL.Path]))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}))
	defer srv.Close()
	var vs []*Viewer
	for i := range 3 {
		v := &Viewer{Client: NewClient(srv.URL, true), VideoID: fmt.Sprint("v", i)}
		u, _ := url.Parse(srv.URL)
		v.Client.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookieName, Value: "first"}})
		v.Client.Token = "tok-/record-viewing/" + v.VideoID
		vs = append(vs, v)
	}
	p, err := NewEpollPoster(vs, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background(), "post", 0, 200*time.Millisecond, nil)
	if r.OK == 0 || r.Errors != 0 {
		t.Fatalf("ok %d, errors %d (%s)", r.OK, r.Errors, r.FirstErr)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, v := range vs {
		path := "/record-viewing/" + v.VideoID
		if v.Unknown != 0 || len(v.Traces) != count[path] {
			t.Fatalf("%s: %d traces, %d unknown; the server answered %d", path, len(v.Traces), v.Unknown, count[path])
		}
		for i, tr := range v.Traces {
			if want := fmt.Sprintf("%s#%d", path, i+1); tr != want {
				t.Fatalf("%s: trace %d is %q, want %q", path, i, tr, want)
			}
		}
		cookies := seen[path]
		if cookies[0] != sessionCookieName+"=first" || cookies[len(cookies)-1] != sessionCookieName+"=renewed" {
			t.Errorf("%s: cookies sent %q…%q", path, cookies[0], cookies[len(cookies)-1])
		}
	}
}
