package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/live"
)

// running starts srv.Run on port 0 and returns its base URL and a stop
// function that cancels and waits for Run to return.
func running(t *testing.T, srv *app.Server) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrs <- a }) }()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run never reported its address")
	}
	var stopped bool
	var stopErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		}
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return base, stop
}

// sseClient reads an event stream line by line.
type sseClient struct {
	t      *testing.T
	cancel context.CancelFunc
	lines  chan string
	resp   *http.Response
}

func openStream(t *testing.T, client *http.Client, url string, cookies ...*http.Cookie) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("stream: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseClient{t: t, cancel: cancel, lines: make(chan string, 100), resp: resp}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	return s
}

// waitFor reads lines until one equals want.
func (s *sseClient) waitFor(want string, within time.Duration) {
	s.t.Helper()
	deadline := time.After(within)
	var got []string
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("stream ended before %q; got %q", want, got)
			}
			if line == want {
				return
			}
			got = append(got, line)
		case <-deadline:
			s.t.Fatalf("no %q within %v; got %q", want, within, got)
		}
	}
}

// waitEnd reads lines until the server ends the stream, failing if one equals never.
func (s *sseClient) waitEnd(never string, within time.Duration) {
	s.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return
			}
			if line == never {
				s.t.Fatalf("got %q", never)
			}
		case <-deadline:
			s.t.Fatalf("the stream did not end within %v", within)
		}
	}
}

func (s *sseClient) close() {
	s.cancel()
	s.resp.Body.Close()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunServesOnPortZeroAndShutsDownGracefully(t *testing.T) {
	started := make(chan struct{})
	h := newHarness(t, []app.Application{app.ApplicationFunc(func(r app.Router) {
		r.GET("/slow", func(c echo.Context) error {
			close(started)
			time.Sleep(300 * time.Millisecond)
			return c.String(http.StatusOK, "finished")
		})
	})})
	base, stop := running(t, h.srv)

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var sb strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&sb)
		res <- result{status: resp.StatusCode, body: sb.String()}
	}()
	<-started
	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := <-res
	if r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if elapsed := time.Since(begin); elapsed < 200*time.Millisecond {
		t.Errorf("Run returned after %v, before the in-flight request finished", elapsed)
	}
	if _, err := http.Get(base + "/slow"); err == nil {
		t.Error("server still accepts connections after shutdown")
	}
}

// A request still in flight when the grace period ends is cut, and Run still returns nil (a warning
// is logged): the stop was asked for and it happened, so the program exits 0.
func TestRunCutsWhatOutlastsTheGracePeriodAndStillStopsCleanly(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	h := newHarness(t, []app.Application{app.ApplicationFunc(func(r app.Router) {
		r.GET("/stuck", func(c echo.Context) error {
			close(started)
			<-release
			return c.String(http.StatusOK, "too late")
		})
	})}, func(d *app.Deps) { d.Timeouts.Shutdown = 100 * time.Millisecond })
	base, stop := running(t, h.srv)
	go func() {
		if resp, err := http.Get(base + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Run after a cut request: %v, want nil", err)
	}
	if !strings.Contains(h.logs.String(), "grace period over") {
		t.Error("no warning that requests were cut")
	}
}

func TestRunReportsListenErrors(t *testing.T) {
	h := probe(t)
	err := h.srv.Run(context.Background(), "127.0.0.1:-1", nil)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run with a bad address: %v", err)
	}
}

func TestLiveStreamOverRealServer(t *testing.T) {
	hub := live.NewHub(live.Options{})
	h := newHarness(t, []app.Application{app.ApplicationFunc(func(r app.Router) {
		r.GET("/live/home", app.LiveStream(hub, app.LiveTopic(live.TopicHome)))
		r.GET("/live/refused", app.LiveStream(hub, func(echo.Context) (string, error) {
			return "", app.Forbidden("not yours")
		}))
	})}, func(d *app.Deps) {
		// A short ReadTimeout must not cut streams (net/http would cancel
		// the request context when the read deadline passes).
		d.Timeouts.Read = 150 * time.Millisecond
		d.Timeouts.Write = 150 * time.Millisecond
		// Nor a short request deadline (LiveStream lifts it).
		d.Timeouts.Request = 150 * time.Millisecond
	})
	base, stop := running(t, h.srv)
	transport := &http.Transport{}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()

	// Let the server's goroutines settle, then take the baseline.
	time.Sleep(50 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	s := openStream(t, client, base+"/live/home")
	s.waitFor("retry: 3000", time.Second)
	eventually(t, "subscription", func() bool { return hub.Subscribers(live.TopicHome) == 1 })

	time.Sleep(400 * time.Millisecond) // beyond Read and Write timeouts
	hub.Publish(live.TopicHome, live.EventUpdate, `{"videosWatched":"42"}`)
	s.waitFor("event: update", time.Second)
	s.waitFor(`data: {"videosWatched":"42"}`, time.Second)

	// The client leaves: the handler must notice, unsubscribe and return.
	s.close()
	transport.CloseIdleConnections()
	eventually(t, "unsubscribe after disconnect", func() bool { return hub.Subscribers(live.TopicHome) == 0 })
	eventually(t, fmt.Sprintf("goroutines back to %d", baseline), func() bool {
		return runtime.NumGoroutine() <= baseline
	})

	// HEAD gets the stream's headers and ends at once, without subscribing.
	head, _ := http.NewRequest(http.MethodHead, base+"/live/home", nil)
	headClient := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	if resp, err := headClient.Do(head); err != nil {
		t.Fatalf("HEAD on a live stream: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
			t.Fatalf("HEAD on a live stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// A HEAD that streamed would stay subscribed on the kept-alive connection, invisible to the client.
	time.Sleep(100 * time.Millisecond)
	if n := hub.Subscribers(live.TopicHome); n != 0 {
		t.Fatalf("HEAD subscribed: %d subscribers", n)
	}

	// Authorization errors are plain text for EventSource clients.
	req, _ := http.NewRequest(http.MethodGet, base+"/live/refused", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("refused stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Shutdown ends open streams promptly instead of waiting for the grace
	// period.
	s2 := openStream(t, client, base+"/live/home")
	s2.waitFor("retry: 3000", time.Second)
	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if elapsed := time.Since(begin); elapsed > 3*time.Second {
		t.Errorf("shutdown with an open stream took %v", elapsed)
	}
	for range s2.lines {
	}
	s2.close()
}

// A live stream opened by a signed-in session ends when the session is logged out, in this process or
// in another one (Deps.SessionRevoked), instead of delivering the user's updates to whoever still holds
// the stream; an anonymous stream of the same topic goes on.
func TestLiveStreamEndsWhenItsSessionIsLoggedOut(t *testing.T) {
	var mu sync.Mutex
	revoked := map[string]bool{}
	hub := live.NewHub(live.Options{Retain: -1})
	server := func() *harness {
		return newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), app.ApplicationFunc(func(r app.Router) {
			r.GET("/t/live", app.LiveStream(hub, app.LiveTopic("mine")))
		})}, func(d *app.Deps) {
			d.SessionRevoked = func(_ context.Context, ref string) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				return revoked[ref], nil
			}
		})
	}
	h := server()
	base, _ := running(t, h.srv)
	transport := &http.Transport{}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()

	publish := func(data string) { hub.Publish("mine", live.EventUpdate, data) }
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	mine := openStream(t, client, base+"/t/live", signedIn)
	defer mine.close()
	anonymous := openStream(t, client, base+"/t/live")
	defer anonymous.close()
	mine.waitFor("retry: 3000", 5*time.Second)
	anonymous.waitFor("retry: 3000", 5*time.Second)
	eventually(t, "two subscribers", func() bool { return hub.Subscribers("mine") == 2 })
	publish("before")
	mine.waitFor("data: before", 5*time.Second)
	anonymous.waitFor("data: before", 5*time.Second)

	// Logged out here (another tab): the next update is not delivered, the stream ends.
	if rec := h.get("/t/sign-out", signedIn); rec.Code != http.StatusNoContent {
		t.Fatalf("sign-out: %d", rec.Code)
	}
	publish("after")
	mine.waitEnd("data: after", 5*time.Second)
	anonymous.waitFor("data: after", 5*time.Second)

	// Logged out in another process: once SessionRevoked says so.
	h2 := server()
	base2, _ := running(t, h2.srv)
	signedIn = sessionCookie(t, h2.get("/t/sign-in"))
	ref := body(h2.get("/t/session-ref", signedIn))
	elsewhere := openStream(t, client, base2+"/t/live", signedIn)
	defer elsewhere.close()
	elsewhere.waitFor("retry: 3000", 5*time.Second)
	publish("still signed in")
	elsewhere.waitFor("data: still signed in", 5*time.Second)
	mu.Lock()
	revoked[ref] = true
	mu.Unlock()
	h2.clock.Advance(3 * time.Second) // past the recheck interval of the "valid" answer
	publish("logged out elsewhere")
	elsewhere.waitEnd("data: logged out elsewhere", 5*time.Second)
	anonymous.waitFor("data: logged out elsewhere", 5*time.Second)
}

// One session holds at most 16 live streams at once (each is a goroutine and a socket for as long as
// it is open); the next is a 429 with Retry-After, other sessions are not affected, and a stream that
// ends gives its place back. A client without a session is counted by its address.
func TestLiveStreamsPerSessionAreCapped(t *testing.T) {
	const limit = 16
	hub := live.NewHub(live.Options{Retain: -1})
	h := newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), app.ApplicationFunc(func(r app.Router) {
		r.GET("/t/live", app.LiveStream(hub, app.LiveTopic("capped")))
	})})
	base, _ := running(t, h.srv)
	transport := &http.Transport{}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()

	try := func(cookies ...*http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/t/live", nil)
		req.Header.Set("Accept", "text/event-stream")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
		}
		return resp
	}
	refused := func(what string, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			resp.Body.Close()
			t.Fatalf("%s: status %d, Retry-After %q; want 429 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	fill := func(cookies ...*http.Cookie) []*sseClient {
		t.Helper()
		var open []*sseClient
		for range limit {
			s := openStream(t, client, base+"/t/live", cookies...)
			s.waitFor("retry: 3000", 5*time.Second)
			open = append(open, s)
		}
		return open
	}

	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	open := fill(signedIn)
	refused("stream 17 of a session", try(signedIn))

	// Another session, and a client without one, still get theirs.
	other, _ := csrfSession(t, h)
	s := openStream(t, client, base+"/t/live", other)
	s.waitFor("retry: 3000", 5*time.Second)
	s.close()
	sessionless := fill()
	refused("stream 17 of a client without a session", try())

	// A stream that ends gives its place back.
	open[0].close()
	eventually(t, "the closed stream's place to be given back", func() bool {
		resp := try(signedIn)
		if resp.StatusCode != http.StatusOK {
			return false
		}
		resp.Body.Close()
		return true
	})
	for _, s := range append(open[1:], sessionless...) {
		s.close()
	}
}
