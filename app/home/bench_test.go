package home_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/home"
	"videotutorials/app/live"
	"videotutorials/internal/testdb"
)

// discardWriter is a ResponseWriter that keeps the status and the headers and drops the body, so
// that the benchmarks measure the server, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// benchHome serves GET / in process (no sockets) with the view cache active, as in the program.
// keepCookie: the visitor keeps its session cookie (the load driver); false: a new visitor each time
// (wrk).
func benchHome(b *testing.B, keepCookie bool) {
	hub := live.NewHub(live.Options{})
	a := home.New(home.Deps{Views: testdb.NewPool(b), Hub: hub, Logger: testdb.Quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx) //nolint:errcheck // ends with ctx
	for hub.Subscribers(live.TopicHome) == 0 {
		ctx.Err() // the relay subscribes at once
	}
	srv := apptest.NewServer(b, app.Deps{}, a).Echo()

	first := httptest.NewRecorder()
	srv.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	var cookie *http.Cookie
	for _, c := range first.Result().Cookies() {
		if c.Name == app.SessionCookieName {
			cookie = c
		}
	}
	if first.Code != http.StatusOK || cookie == nil {
		b.Fatalf("status %d, cookie %v", first.Code, cookie)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "text/html")
	if keepCookie {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		w.status, w.n = 0, 0
		srv.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
}

func BenchmarkHomeReturningVisitor(b *testing.B) { benchHome(b, true) }
func BenchmarkHomeNewVisitor(b *testing.B)       { benchHome(b, false) }
