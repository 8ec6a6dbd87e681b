package home

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"videotutorials/app"
	"videotutorials/viewdata"
)

// counting returns a load that counts its calls and returns the count as videosWatched.
func counting() (func(context.Context) (homeData, error), *atomic.Int64) {
	var n atomic.Int64
	return func(context.Context) (homeData, error) {
		return homeData{page: viewdata.HomePageData{VideosWatched: n.Add(1)}}, nil
	}, &n
}

func watched(t *testing.T, c *viewCache, load func(context.Context) (homeData, error)) int64 {
	t.Helper()
	d, err := c.get(context.Background(), load)
	if err != nil {
		t.Fatal(err)
	}
	return d.page.VideosWatched
}

func TestCacheIsOffUntilActive(t *testing.T) {
	c := newViewCache(time.Hour)
	load, n := counting()
	watched(t, c, load)
	watched(t, c, load)
	if n.Load() != 2 {
		t.Fatalf("%d loads without invalidations running, want 2 (no caching)", n.Load())
	}
	c.setActive(true)
	watched(t, c, load)
	watched(t, c, load)
	if n.Load() != 3 {
		t.Fatalf("%d loads, want 3", n.Load())
	}
	c.setActive(false) // Run stopped: nothing would invalidate the entry any more
	watched(t, c, load)
	if n.Load() != 4 {
		t.Fatalf("%d loads after deactivation, want 4", n.Load())
	}
}

func TestCacheInvalidationReloads(t *testing.T) {
	c := newViewCache(time.Hour)
	c.setActive(true)
	load, _ := counting()
	if got := watched(t, c, load); got != 1 {
		t.Fatalf("first %d", got)
	}
	if got := watched(t, c, load); got != 1 {
		t.Fatalf("cached %d, want 1", got)
	}
	c.invalidate()
	if got := watched(t, c, load); got != 2 {
		t.Fatalf("after invalidation %d, want 2", got)
	}
}

func TestCacheExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newViewCache(time.Second)
	c.now = func() time.Time { return now }
	c.setActive(true)
	load, _ := counting()
	watched(t, c, load)
	now = now.Add(999 * time.Millisecond)
	if got := watched(t, c, load); got != 1 {
		t.Fatalf("within the TTL %d, want 1", got)
	}
	now = now.Add(time.Millisecond)
	if got := watched(t, c, load); got != 2 {
		t.Fatalf("after the TTL %d, want 2 (a lost event must not keep the page stale)", got)
	}
}

// A load that fails after one that succeeded serves the last good data for one more TTL, says why
// once, and tries again after it; without earlier data the error is the answer.
func TestFailedLoadServesTheLastGoodDataForOneMoreTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newViewCache(time.Second)
	c.now = func() time.Time { return now }
	var told []error
	c.onStale = func(err error) { told = append(told, err) }
	c.setActive(true)
	down := errors.New("database unreachable")
	var loads int
	load := func(context.Context) (homeData, error) {
		loads++
		return homeData{}, down
	}
	if _, err := c.get(context.Background(), load); !errors.Is(err, down) {
		t.Fatalf("no earlier data: err %v, want the load's", err)
	}
	good, _ := counting()
	if got := watched(t, c, good); got != 1 {
		t.Fatalf("first good load %d", got)
	}
	c.invalidate()
	loads = 0
	for range 3 {
		if got := watched(t, c, load); got != 1 {
			t.Fatalf("while loads fail: %d, want the last good count 1", got)
		}
	}
	if loads != 1 || len(told) != 1 || !errors.Is(told[0], down) {
		t.Fatalf("%d loads and %d reports while failing within one TTL, want 1 and 1 (%v)", loads, len(told), told)
	}
	now = now.Add(time.Second)
	watched(t, c, load)
	if loads != 2 {
		t.Fatalf("%d loads after the TTL, want another attempt", loads)
	}
}

func TestNegativeTTLDisablesTheCache(t *testing.T) {
	c := newViewCache(-1)
	c.setActive(true)
	load, n := counting()
	watched(t, c, load)
	watched(t, c, load)
	if n.Load() != 2 {
		t.Fatalf("%d loads, want 2", n.Load())
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	c := newViewCache(time.Hour)
	c.setActive(true)
	release := make(chan struct{})
	var n atomic.Int64
	load := func(context.Context) (homeData, error) {
		n.Add(1)
		<-release
		return homeData{page: viewdata.HomePageData{VideosWatched: 7}}, nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := watched(t, c, load); got != 7 {
				t.Errorf("got %d", got)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d loads, want 1", n.Load())
	}
}

func TestLoadOverlappingAnInvalidationIsNotKept(t *testing.T) {
	c := newViewCache(time.Hour)
	c.setActive(true)
	var n atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	load := func(context.Context) (homeData, error) {
		if n.Add(1) == 1 {
			close(started)
			<-release
		}
		return homeData{page: viewdata.HomePageData{VideosWatched: n.Load()}}, nil
	}
	done := make(chan int64)
	go func() { done <- watched(t, c, load) }()
	<-started
	c.invalidate() // the view changed while the first load was reading it
	close(release)
	if got := <-done; got != 1 {
		t.Fatalf("first request got %d", got)
	}
	if got := watched(t, c, load); got != 2 {
		t.Fatalf("after the overlapping invalidation %d, want a fresh load (2)", got)
	}
}

func TestLoadSurvivesTheCancelledRequestThatStartedIt(t *testing.T) {
	c := newViewCache(time.Hour)
	c.setActive(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := c.get(ctx, func(ctx context.Context) (homeData, error) {
		return homeData{page: viewdata.HomePageData{VideosWatched: 3}}, ctx.Err()
	})
	if err != nil || d.page.VideosWatched != 3 {
		t.Fatalf("%+v %v", d, err)
	}
}

// A load the database does not answer (the pages table locked by a migration or a rebuild, a stalled
// server) is given up after loadTimeout, whatever the requests' own deadlines: pgx cancels the
// statement, and the error it returns ("canceling statement due to user request") says nothing about
// the database. Without earlier data to show, the requests waiting for it must hear that the page is
// unavailable for now (503 with Retry-After), not get the bug page: GET / with the pages table locked
// answered 500 after 10 s.
func TestALoadWithoutAnAnswerIsUnavailableNotABug(t *testing.T) {
	c := newViewCache(time.Hour)
	c.loadTimeout = 20 * time.Millisecond
	c.setActive(true)
	load := func(ctx context.Context) (homeData, error) {
		<-ctx.Done()
		return homeData{}, errors.New("home page view: ERROR: canceling statement due to user request (SQLSTATE 57014)")
	}
	_, err := c.get(context.Background(), load)
	var e *app.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("error %v (%T), want an app.Error with status 503", err, err)
	}
	// A load that fails by itself, in time, is still what it is.
	c.invalidate()
	boom := errors.New("boom")
	if _, err := c.get(context.Background(), func(context.Context) (homeData, error) { return homeData{}, boom }); !errors.Is(err, boom) || errors.As(err, &e) {
		t.Fatalf("a load's own error: %v", err)
	}
}
