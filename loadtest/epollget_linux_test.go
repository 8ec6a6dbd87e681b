package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
