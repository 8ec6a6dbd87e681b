package live_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"videotutorials/app/live"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func next(t *testing.T, sub *live.Subscription) (live.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		return ev, ok
	case <-time.After(time.Second):
		t.Fatal("no event within 1s")
		return live.Event{}, false
	}
}

func assertNothing(t *testing.T, sub *live.Subscription) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		t.Fatalf("unexpected event %+v (open=%v)", ev, ok)
	default:
	}
}

func TestPublishReachesSubscribersOfTheTopicOnly(t *testing.T) {
	hub := live.NewHub(live.Options{})
	home := hub.Subscribe("home")
	dash := hub.Subscribe("dashboard:u1", "home")
	other := hub.Subscribe("dashboard:u2")
	defer home.Close()
	defer dash.Close()
	defer other.Close()

	hub.Publish("home", "update", `{"videosWatched":"1"}`)
	hub.Publish("dashboard:u1", "update", `{"views-v1":"3"}`)
	if ev, _ := next(t, home); ev != (live.Event{Topic: "home", Name: "update", Data: `{"videosWatched":"1"}`}) {
		t.Fatalf("home got %+v", ev)
	}
	if ev, _ := next(t, dash); ev.Topic != "home" {
		t.Fatalf("dash first got %+v", ev)
	}
	if ev, _ := next(t, dash); ev.Topic != "dashboard:u1" {
		t.Fatalf("dash second got %+v", ev)
	}
	assertNothing(t, other)
	assertNothing(t, home)

	// Invalid names are dropped rather than corrupting the stream.
	hub.Publish("home", "up\ndate", "x")
	hub.Publish("", "update", "x")
	hub.Publish("home", "", "x")
	assertNothing(t, home)
}

func TestRetainedEventIsReplayedToLateSubscribers(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	hub := live.NewHub(live.Options{Retain: time.Minute, MaxRetained: 2, Now: clk.Now})
	hub.Publish("video-operation:t1", "redirect", "/creators-portal/videos/v1")
	hub.Publish("home", "update", `{"videosWatched":"1"}`)
	hub.Publish("home", "update", `{"videosWatched":"2"}`)

	sub := hub.Subscribe("video-operation:t1")
	if ev, _ := next(t, sub); ev.Name != "redirect" || ev.Data != "/creators-portal/videos/v1" {
		t.Fatalf("replayed %+v", ev)
	}
	sub.Close()
	sub = hub.Subscribe("home")
	if ev, _ := next(t, sub); ev.Data != `{"videosWatched":"2"}` {
		t.Fatalf("replayed %+v, want the latest only", ev)
	}
	assertNothing(t, sub)
	sub.Close()

	// Bounded: a third topic evicts the least recently published one.
	hub.Publish("dashboard:u1", "update", "{}")
	sub = hub.Subscribe("video-operation:t1")
	assertNothing(t, sub)
	sub.Close()

	// Expired: nothing is replayed after Retain.
	clk.Advance(time.Minute)
	sub = hub.Subscribe("home")
	assertNothing(t, sub)
	sub.Close()
}

func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	hub := live.NewHub(live.Options{Buffer: 2, Retain: -1})
	slow := hub.Subscribe("home")
	fast := hub.Subscribe("home")
	// The fast subscriber keeps up; the slow one never reads. Publish must
	// not block on it.
	for i := range 10 {
		hub.Publish("home", "update", fmt.Sprint(i))
		ev, ok := next(t, fast)
		if !ok || ev.Data != fmt.Sprint(i) {
			t.Fatalf("fast subscriber got %+v, open=%v", ev, ok)
		}
	}
	// The slow one got its buffer, then its channel was closed.
	n := 0
	for range slow.Events() {
		n++
	}
	if n != 2 || !slow.Lagged() {
		t.Fatalf("slow subscriber: %d events, lagged=%v", n, slow.Lagged())
	}
	if hub.Subscribers("home") != 1 {
		t.Fatalf("%d subscribers, want 1", hub.Subscribers("home"))
	}
	slow.Close() // idempotent after the hub dropped it
	fast.Close()
	fast.Close()
}

func TestCloseEndsSubscriptions(t *testing.T) {
	hub := live.NewHub(live.Options{})
	sub := hub.Subscribe("home")
	hub.Close()
	if _, ok := next(t, sub); ok {
		t.Fatal("channel still open after Close")
	}
	hub.Publish("home", "update", "{}") // no panic
	late := hub.Subscribe("home")
	if _, ok := next(t, late); ok {
		t.Fatal("subscription to a closed hub is open")
	}
	hub.Close()
}

// streamServer serves hub topic "home" with the given options.
func streamServer(t *testing.T, hub *live.Hub, opts live.StreamOptions) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := live.Stream(w, r, hub.Subscribe("home"), opts); err != nil {
			t.Errorf("Stream: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func readLines(t *testing.T, ctx context.Context, url string) (<-chan string, *http.Response) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines, resp
}

func collectUntil(t *testing.T, lines <-chan string, want string) []string {
	t.Helper()
	var got []string
	timeout := time.After(2 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q: %q", want, got)
			}
			got = append(got, l)
			if l == want {
				return got
			}
		case <-timeout:
			t.Fatalf("no %q in %q", want, got)
		}
	}
}

func TestStreamWritesEventsAndHeartbeats(t *testing.T) {
	hub := live.NewHub(live.Options{})
	srv := streamServer(t, hub, live.StreamOptions{Heartbeat: 20 * time.Millisecond, Retry: 1500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines, resp := readLines(t, ctx, srv.URL)
	defer resp.Body.Close()

	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") {
		t.Fatalf("Cache-Control %q", cc)
	}
	collectUntil(t, lines, "retry: 1500")
	collectUntil(t, lines, ": heartbeat")
	collectUntil(t, lines, ": heartbeat")

	// Multi-line data cannot forge fields: each line is its own data: field.
	hub.Publish("home", "update", "line one\r\nevent: redirect\rdata: /evil")
	got := collectUntil(t, lines, "data: data: /evil")
	tail := strings.Join(got[len(got)-4:], "\n")
	if tail != "event: update\ndata: line one\ndata: event: redirect\ndata: data: /evil" {
		t.Fatalf("event framing:\n%s", tail)
	}
}

func TestStreamEndsWhenClientLeavesOrStopCloses(t *testing.T) {
	hub := live.NewHub(live.Options{})
	stop := make(chan struct{})
	srv := streamServer(t, hub, live.StreamOptions{Heartbeat: time.Hour, Stop: stop})
	baseline := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	lines, resp := readLines(t, ctx, srv.URL)
	collectUntil(t, lines, ": connected")
	if hub.Subscribers("home") != 1 {
		t.Fatal("not subscribed")
	}
	cancel()
	resp.Body.Close()
	waitFor(t, "unsubscribed", func() bool { return hub.Subscribers("home") == 0 })
	http.DefaultClient.CloseIdleConnections()
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= baseline })

	lines, resp = readLines(t, context.Background(), srv.URL)
	defer resp.Body.Close()
	collectUntil(t, lines, ": connected")
	close(stop)
	for range lines { // the server ends the response
	}
	waitFor(t, "unsubscribed after stop", func() bool { return hub.Subscribers("home") == 0 })
}

func TestLaggedStreamTellsTheClientToReload(t *testing.T) {
	hub := live.NewHub(live.Options{Buffer: 1, Retain: -1})
	sub := hub.Subscribe("home")
	// Fill the buffer and overflow it before the stream starts reading.
	hub.Publish("home", "update", "1")
	hub.Publish("home", "update", "2")
	rec := httptest.NewRecorder()
	if err := live.Stream(rec, httptest.NewRequest(http.MethodGet, "/", nil), sub, live.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "data: 1\n\n") || !strings.HasSuffix(body, "event: reload\ndata: lagged\n\n") {
		t.Fatalf("body:\n%s", body)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A stream whose Valid check fails ends: before an event is written (the event is not), and at a
// heartbeat when no event comes.
func TestStreamEndsWhenItIsNoLongerValid(t *testing.T) {
	var valid atomic.Bool
	valid.Store(true)
	check := func() bool { return valid.Load() }

	t.Run("before an event", func(t *testing.T) {
		hub := live.NewHub(live.Options{Retain: -1})
		srv := streamServer(t, hub, live.StreamOptions{Heartbeat: time.Hour, Valid: check})
		lines, resp := readLines(t, context.Background(), srv.URL)
		defer resp.Body.Close()
		collectUntil(t, lines, ": connected")
		hub.Publish("home", "update", "while valid")
		collectUntil(t, lines, "data: while valid")
		valid.Store(false)
		hub.Publish("home", "update", "after")
		for l := range lines {
			if l == "data: after" {
				t.Fatal("an event was written after the stream stopped being valid")
			}
		}
		waitFor(t, "unsubscribed", func() bool { return hub.Subscribers("home") == 0 })
	})
	t.Run("at a heartbeat", func(t *testing.T) {
		valid.Store(true)
		hub := live.NewHub(live.Options{Retain: -1})
		srv := streamServer(t, hub, live.StreamOptions{Heartbeat: 10 * time.Millisecond, Valid: check})
		lines, resp := readLines(t, context.Background(), srv.URL)
		defer resp.Body.Close()
		collectUntil(t, lines, ": heartbeat")
		valid.Store(false)
		for range lines { // the server ends the response
		}
		waitFor(t, "unsubscribed", func() bool { return hub.Subscribers("home") == 0 })
	})
}
