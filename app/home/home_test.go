package home_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/home"
	"videotutorials/app/live"
	"videotutorials/internal/testdb"
)

// homeRow runs the test with the home page row as set by change, inside a transaction that is rolled
// back, so the test neither depends on nor disturbs the shared view.
func homeRow(t *testing.T, change string, args ...any) pgx.Tx {
	t.Helper()
	tx := testdb.NewTx(t)
	if _, err := tx.Exec(context.Background(), change, args...); err != nil {
		t.Fatal(err)
	}
	return tx
}

var counter = regexp.MustCompile(`id="videos-watched"[^>]*>(\d+)</span>\s*<span[^>]*>(videos?)</span>`)

func TestHomeShowsTheCountAndTheButton(t *testing.T) {
	tx := homeRow(t, `UPDATE pages SET page_data = '{"videosWatched": 42, "lastViewProcessed": 99}' WHERE page_name = 'home'`)
	srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: tx, Hub: live.NewHub(live.Options{}), Logger: testdb.Quiet}))
	rec := apptest.NewBrowser(t, srv).Get("/")
	apptest.WantStatus(t, rec, http.StatusOK)
	page := rec.Body.String()
	if m := counter.FindStringSubmatch(page); m == nil || m[1] != "42" || m[2] != "videos" {
		t.Fatalf("counter %q in:\n%s", m, page)
	}
	if !strings.Contains(page, "Viewers have watched") {
		t.Error("the book's sentence is missing")
	}
	form := regexp.MustCompile(`<form[^>]*method="post" action="/record-viewing/` + home.DemoVideoID + `"><input type="hidden" name="_csrf" value="[^"]+">`)
	if !form.MatchString(page) {
		t.Errorf("no record-viewing form with the CSRF token first:\n%s", page)
	}
	if !strings.Contains(page, `data-live-src="/live/home"`) || !strings.Contains(page, `data-live-field="videosWatched"`) {
		t.Errorf("counter is not wired to the live stream:\n%s", page)
	}
	if !strings.Contains(page, "<title>Home · Video Tutorials</title>") {
		t.Error("not in the layout")
	}
}

func TestHomeSaysOneVideo(t *testing.T) {
	tx := homeRow(t, `UPDATE pages SET page_data = '{"videosWatched": 1, "lastViewProcessed": 5}' WHERE page_name = 'home'`)
	srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: tx}))
	m := counter.FindStringSubmatch(apptest.NewBrowser(t, srv).Get("/").Body.String())
	if m == nil || m[1] != "1" || m[2] != "video" {
		t.Fatalf("counter %q", m)
	}
}

func TestHomeWorksBeforeAnyViewing(t *testing.T) {
	for name, change := range map[string]string{
		"seeded row":  `UPDATE pages SET page_data = '{"videosWatched": 0, "lastViewProcessed": 0}' WHERE page_name = 'home'`,
		"missing row": `DELETE FROM pages WHERE page_name = 'home'`,
		"empty data":  `UPDATE pages SET page_data = '{}' WHERE page_name = 'home'`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: homeRow(t, change)}))
			rec := apptest.NewBrowser(t, srv).Get("/")
			apptest.WantStatus(t, rec, http.StatusOK)
			if m := counter.FindStringSubmatch(rec.Body.String()); m == nil || m[1] != "0" || m[2] != "videos" {
				t.Fatalf("counter %q", m)
			}
		})
	}
}

func TestHomeWithoutHubHasNoLiveStream(t *testing.T) {
	srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: testdb.NewPool(t)}))
	b := apptest.NewBrowser(t, srv)
	rec := b.Get("/")
	apptest.WantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), "data-live-src") {
		t.Error("page points at a live stream that does not exist")
	}
	apptest.WantStatus(t, b.Get(home.LivePath), http.StatusNotFound)
}

func TestUnknownPathIsA404Page(t *testing.T) {
	srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: testdb.NewPool(t)}))
	rec := apptest.NewBrowser(t, srv).Get("/no-such-page")
	apptest.WantStatus(t, rec, http.StatusNotFound)
	if !strings.Contains(rec.Body.String(), "Page not found") {
		t.Error("not the 404 page")
	}
}

// TestRunRelaysCountsAsUpdates checks the adapter between the home-page aggregator's event and the
// page script's "update" event.
func TestRunRelaysCountsAsUpdates(t *testing.T) {
	hub := live.NewHub(live.Options{Retain: -1})
	a := home.New(home.Deps{Hub: hub, Logger: testdb.Quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	eventually(t, "relay subscribed", func() bool { return hub.Subscribers(live.TopicHome) == 1 })

	page := hub.Subscribe(live.TopicHome)
	defer page.Close()
	hub.Publish(live.TopicHome, "videosWatched", "not a number") // ignored
	hub.Publish(live.TopicHome, "videosWatched", "7")
	var got []live.Event
	for len(got) < 3 {
		select {
		case ev := <-page.Events():
			got = append(got, ev)
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far: %v", got)
		}
	}
	want := []live.Event{
		{Topic: live.TopicHome, Name: "videosWatched", Data: "not a number"},
		{Topic: live.TopicHome, Name: "videosWatched", Data: "7"},
		{Topic: live.TopicHome, Name: live.EventUpdate, Data: `{"videosWatched":"7","videosWatchedUnit":"videos"}`},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	select {
	case ev := <-page.Events():
		t.Fatalf("unexpected event %+v (the relay must not answer its own updates)", ev)
	case <-time.After(100 * time.Millisecond):
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if n := hub.Subscribers(live.TopicHome); n != 1 { // only the page's
		t.Errorf("%d subscribers left", n)
	}
}

func TestRunWithoutHubWaitsForCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := home.New(home.Deps{}).Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLiveCounterStream reads the page's event stream over a real server while the aggregator's
// event is published.
func TestLiveCounterStream(t *testing.T) {
	hub := live.NewHub(live.Options{})
	a := home.New(home.Deps{Views: testdb.NewPool(t), Hub: hub, Logger: testdb.Quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx) //nolint:errcheck // ends with ctx
	eventually(t, "relay subscribed", func() bool { return hub.Subscribers(live.TopicHome) == 1 })

	ts := httptest.NewServer(apptest.NewServer(t, app.Deps{}, a).Echo())
	defer ts.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+home.LivePath, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	eventually(t, "page subscribed", func() bool { return hub.Subscribers(live.TopicHome) == 2 })
	hub.Publish(live.TopicHome, "videosWatched", "12")

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if l == `data: {"videosWatched":"12","videosWatchedUnit":"videos"}` {
				return
			}
		case <-deadline:
			t.Fatal("no update event for the page")
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHomeListsPublishedVideos(t *testing.T) {
	published, processing := uuid.NewString(), uuid.NewString()
	tx := homeRow(t, `INSERT INTO creators_portal_videos (id, owner_id, name, views, status, uploaded_at)
		VALUES ($1, $3, 'Event sourcing in ten minutes', 7, 'published', now()),
		       ($2, $3, 'Not ready yet', 0, 'processing', now())`, published, processing, uuid.NewString())
	srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: tx}))
	rec := apptest.NewBrowser(t, srv).Get("/")
	apptest.WantStatus(t, rec, http.StatusOK)
	page := rec.Body.String()
	if !strings.Contains(page, `href="/videos/`+published+`"`) || !strings.Contains(page, "Event sourcing in ten minutes") {
		t.Errorf("the published video is not listed:\n%s", page)
	}
	if strings.Contains(page, processing) || strings.Contains(page, "Not ready yet") {
		t.Error("a video that is not published is listed")
	}
}

// TestCountEventInvalidatesTheCachedPage: while Run relays the aggregator's events, GET / serves the
// view from memory, and the aggregator's event (published after its commit) makes the next request
// read the view again.
func TestCountEventInvalidatesTheCachedPage(t *testing.T) {
	tx := homeRow(t, `UPDATE pages SET page_data = '{"videosWatched": 42, "lastViewProcessed": 99}' WHERE page_name = 'home'`)
	hub := live.NewHub(live.Options{Retain: -1})
	a := home.New(home.Deps{Views: tx, Hub: hub, Logger: testdb.Quiet, CacheTTL: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "relay subscribed", func() bool { return hub.Subscribers(live.TopicHome) == 1 })
	srv := apptest.NewServer(t, app.Deps{}, a)
	b := apptest.NewBrowser(t, srv)
	count := func() string {
		t.Helper()
		m := counter.FindStringSubmatch(b.Get("/").Body.String())
		if m == nil {
			t.Fatal("no counter")
		}
		return m[1]
	}
	if got := count(); got != "42" {
		t.Fatalf("count %s", got)
	}
	if _, err := tx.Exec(context.Background(), `UPDATE pages SET page_data = '{"videosWatched": 43, "lastViewProcessed": 100}' WHERE page_name = 'home'`); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != "42" {
		t.Fatalf("count %s before the event, want the cached 42", got)
	}
	hub.Publish(live.TopicHome, "videosWatched", "43")
	eventually(t, "the page shows the new count", func() bool { return count() == "43" })
}

// TestCachedHomePageIsPerVisitor: with the view cached, anonymous visitors get the page rendered once
// for all of them, but each with a CSRF token of their own session and the request's trace id, and a
// signed-in visitor gets a page with their own header, which no anonymous visitor ever sees.
func TestCachedHomePageIsPerVisitor(t *testing.T) {
	tx := homeRow(t, `UPDATE pages SET page_data = '{"videosWatched": 42, "lastViewProcessed": 99}' WHERE page_name = 'home'`)
	hub := live.NewHub(live.Options{Retain: -1})
	a := home.New(home.Deps{Views: tx, Hub: hub, Logger: testdb.Quiet, CacheTTL: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "relay subscribed", func() bool { return hub.Subscribers(live.TopicHome) == 1 })
	const email = "signed.in@example.com"
	srv := apptest.NewServer(t, app.Deps{Identify: func(context.Context, string) (app.Identity, error) {
		return app.Identity{Email: email}, nil
	}}, a)

	user := apptest.NewBrowser(t, srv)
	user.SignIn(uuid.NewString())
	footerTrace := regexp.MustCompile(`Request <code>([0-9a-f-]{36})</code>`)
	tokens := map[string]bool{}
	for i := range 6 {
		visitor := apptest.NewBrowser(t, srv)
		signedIn := i%3 == 2
		if signedIn {
			visitor = user
		}
		rec := visitor.Get("/")
		apptest.WantStatus(t, rec, http.StatusOK)
		page := rec.Body.String()
		if m := counter.FindStringSubmatch(page); m == nil || m[1] != "42" {
			t.Fatalf("counter %q", m)
		}
		if m := footerTrace.FindStringSubmatch(page); m == nil || m[1] != rec.Header().Get(app.HeaderTraceID) {
			t.Errorf("footer trace id %q, header %q", m, rec.Header().Get(app.HeaderTraceID))
		}
		token := visitor.CSRF("/") // another page view: tokens differ per page anyway
		if tokens[token] {
			t.Fatalf("token %q served twice", token)
		}
		tokens[token] = true
		if got := strings.Contains(page, email) && strings.Contains(page, `action="/auth/log-out"`); got != signedIn {
			t.Fatalf("visitor %d (signed in: %v) sees the signed-in header: %v\n%s", i, signedIn, got, page)
		}
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(page)) {
			t.Errorf("Content-Length %q for %d bytes", cl, len(page))
		}
	}
}

// The home page lists the 24 latest published videos and, when more are published, links the video
// index's next page. Its videos are uploaded in the year 3000, ahead of every other test's.
func TestHomeLinksTheVideoIndexWhenMoreVideosArePublished(t *testing.T) {
	ids := make([]string, 25) // ids[0] is the latest upload
	tx := homeRow(t, `SELECT 1`)
	for i := range ids {
		ids[i] = uuid.NewString()
		if _, err := tx.Exec(context.Background(), `INSERT INTO creators_portal_videos (id, owner_id, name, status, uploaded_at)
			VALUES ($1, $2, 'Listed', 'published', '3000-01-01'::timestamptz - make_interval(secs => $3))`, ids[i], uuid.NewString(), i); err != nil {
			t.Fatal(err)
		}
	}
	srv := apptest.NewServer(t, app.Deps{}, home.New(home.Deps{Views: tx}))
	rec := apptest.NewBrowser(t, srv).Get("/")
	apptest.WantStatus(t, rec, http.StatusOK)
	page := rec.Body.String()
	for _, id := range ids[:24] {
		if !strings.Contains(page, `href="/videos/`+id+`"`) {
			t.Fatalf("video %s is not listed", id)
		}
	}
	if strings.Contains(page, ids[24]) {
		t.Fatal("the home page lists a 25th video")
	}
	if more := `href="/videos?after=` + ids[23] + `" rel="next">More videos`; !strings.Contains(page, more) {
		t.Fatalf("the home page does not link the rest: want %s", more)
	}
}
