package home

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"videotutorials/app"
	"videotutorials/viewdata"
)

// DefaultCacheTTL bounds how long the home page shows data without re-reading it.
const DefaultCacheTTL = time.Second

// homeData is what the home page reads from the view data.
type homeData struct {
	page   viewdata.HomePageData
	videos []viewdata.CreatorsVideo // shared between requests: read only
	more   bool                     // more videos are published than the page lists
	// anonymous is the page rendered from this data for anonymous visitors, made by the first
	// request that needs it. Only data shared between requests (held by the cache) has one.
	anonymous *anonymousPage
}

// anonymousPage is the home page compiled once for every anonymous visitor of one version of the
// data.
type anonymousPage struct {
	once sync.Once
	page *app.AnonymousPage
	err  error
}

func (p *anonymousPage) get(compile func() (*app.AnonymousPage, error)) (*app.AnonymousPage, error) {
	p.once.Do(func() { p.page, p.err = compile() })
	return p.page, p.err
}

// viewCache keeps the home page's view data in memory, so that GET / does not query the database on
// every request. It is only used while Run is relaying the home-page aggregator's events: each of
// them (the count changed and committed) invalidates the cache, so the next request reads the view
// again; in a process without the aggregator the events arrive through the live bridge (NOTIFY).
// Events can be lost across processes, and the published videos have no event on this topic, so an
// entry also expires after ttl.
//
// Concurrent requests for a missing entry share one load. A load that was under way when an event
// arrived is handed to the requests already waiting for it (it started after they arrived) but is
// not kept.
//
// A load that fails while an earlier one succeeded serves the earlier data instead, for one more
// ttl, before the next attempt (stale if error): while the database is out of reach the home page
// shows the last count it knew rather than an error page, and is not retried on every request.
type viewCache struct {
	ttl time.Duration
	now func() time.Time
	// loadTimeout bounds a load (defaultLoadTimeout); one that gets no answer within it is a 503.
	loadTimeout time.Duration
	// onStale is told why a load failed when the last good data is served instead; may be nil.
	onStale func(error)

	mu      sync.Mutex
	active  bool   // Run is receiving invalidations
	gen     uint64 // bumped by every invalidation
	cur     *cacheEntry
	last    *cacheEntry // the data of the last load that succeeded, whatever happened since
	loading *cacheLoad
}

type cacheEntry struct {
	gen  uint64
	at   time.Time // when its load started
	data homeData
}

type cacheLoad struct {
	gen  uint64
	done chan struct{}
	data homeData
	err  error
}

// defaultLoadTimeout bounds a load of the cache, which outlives the request that started it.
const defaultLoadTimeout = 10 * time.Second

func newViewCache(ttl time.Duration) *viewCache {
	return &viewCache{ttl: ttl, now: time.Now, loadTimeout: defaultLoadTimeout}
}

// setActive turns the cache on (Run subscribed) or off (Run stopped); either way it starts empty.
func (c *viewCache) setActive(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = on && c.ttl > 0
	c.gen++
	c.cur, c.last = nil, nil
}

// invalidate drops the entry: the view changed.
func (c *viewCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.cur = nil
}

// get returns the cached data or loads it.
func (c *viewCache) get(ctx context.Context, load func(context.Context) (homeData, error)) (homeData, error) {
	c.mu.Lock()
	if !c.active {
		c.mu.Unlock()
		return load(ctx)
	}
	now := c.now()
	if e := c.cur; e != nil && e.gen == c.gen && now.Sub(e.at) < c.ttl {
		c.mu.Unlock()
		return e.data, nil
	}
	l := c.loading
	if l == nil || l.gen != c.gen {
		l = &cacheLoad{gen: c.gen, done: make(chan struct{})}
		c.loading = l
		c.mu.Unlock()
		// Other requests wait for this load: it must not end with the request that started it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
		l.data, l.err = load(lctx)
		if l.err != nil && errors.Is(lctx.Err(), context.DeadlineExceeded) {
			// The database did not answer in time (a locked table, a stalled server). The error is
			// the cancelled statement's, which tells nothing of that: say it, as a 503.
			l.err = &app.Error{Status: http.StatusServiceUnavailable,
				Err: fmt.Errorf("home page view: no answer within %s: %w", c.loadTimeout, l.err)}
		}
		cancel()
		var staleBecause error
		c.mu.Lock()
		switch {
		case l.err == nil:
			l.data.anonymous = new(anonymousPage) // every request of this load shares the data
			c.last = &cacheEntry{gen: l.gen, at: now, data: l.data}
		case c.last != nil && c.active:
			staleBecause, l.data, l.err = l.err, c.last.data, nil
		}
		if l.err == nil && l.gen == c.gen && c.active {
			c.cur = &cacheEntry{gen: l.gen, at: now, data: l.data}
		}
		if c.loading == l {
			c.loading = nil
		}
		c.mu.Unlock()
		close(l.done)
		if staleBecause != nil && c.onStale != nil {
			c.onStale(staleBecause)
		}
		return l.data, l.err
	}
	c.mu.Unlock()
	select {
	case <-l.done:
		return l.data, l.err
	case <-ctx.Done():
		return homeData{}, ctx.Err()
	}
}
