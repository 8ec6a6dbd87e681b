package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DemoVideoID is the video the home page's button records (app/home.DemoVideoID).
const DemoVideoID = "8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11"

// LoadResult is the outcome of a closed-loop load run.
type LoadResult struct {
	Name      string
	Conns     int
	Duration  time.Duration // measured window (after the warm-up)
	OK        int64
	Errors    int64
	FirstErr  string
	Latencies Latencies
	Usage     []Usage
}

// Rate is successful requests per second.
func (r LoadResult) Rate() float64 { return float64(r.OK) / r.Duration.Seconds() }

func (r LoadResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d connections, %s: %.0f req/s, %d ok, %d errors", r.Name, r.Conns, r.Duration.Round(time.Millisecond), r.Rate(), r.OK, r.Errors)
	if r.FirstErr != "" {
		fmt.Fprintf(&b, " (first: %s)", r.FirstErr)
	}
	fmt.Fprintf(&b, "\n  latency %s", r.Latencies.Summary())
	for _, u := range r.Usage {
		fmt.Fprintf(&b, "\n  %s", u)
		if r.OK > 0 && u.CPUPercent > 0 {
			// CPU time over the window divided by the answered requests: the process's cost per
			// request, whatever share of the cores it got.
			perReq := time.Duration(u.CPUPercent / 100 * float64(r.Duration) / float64(r.OK))
			fmt.Fprintf(&b, ", %.1f µs CPU per request", float64(perReq)/float64(time.Microsecond))
		}
	}
	return b.String()
}

// Op is one request of a worker; it reports whether the answer was the expected one.
type Op func(ctx context.Context) error

// Runner runs one load: warm-up, then the measured window d, as Load describes.
type Runner interface {
	Run(ctx context.Context, name string, warmup, d time.Duration, sampler *Sampler) LoadResult
}

// Ops are workers run by Load, one goroutine each.
type Ops []Op

// Run runs the workers with Load.
func (o Ops) Run(ctx context.Context, name string, warmup, d time.Duration, sampler *Sampler) LoadResult {
	return Load(ctx, name, o, warmup, d, sampler)
}

// Load runs ops (one worker each, closed loop) for warmup and then for d, recording latencies of
// the second window only. Requests in flight at the end are finished, not cancelled (so that every
// write's outcome is known). sampler, when not nil, covers the measured window.
func Load(ctx context.Context, name string, ops []Op, warmup, d time.Duration, sampler *Sampler) LoadResult {
	var measuring, stopping atomic.Bool
	var okN, errN atomic.Int64
	var firstErr atomic.Value
	lats := make([]Latencies, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping.Load() && ctx.Err() == nil {
				t := time.Now()
				err := op(context.WithoutCancel(ctx))
				el := time.Since(t)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errN.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				okN.Add(1)
				lats[i] = append(lats[i], el)
			}
		}()
	}
	sleep(ctx, warmup)
	if sampler != nil {
		sampler.Start()
	}
	start := time.Now()
	measuring.Store(true)
	sleep(ctx, d)
	measuring.Store(false)
	el := time.Since(start)
	stopping.Store(true)
	var usage []Usage
	if sampler != nil {
		usage = sampler.Stop()
	}
	wg.Wait()
	r := LoadResult{Name: name, Conns: len(ops), Duration: el, OK: okN.Load(), Errors: errN.Load(), Usage: usage}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstErr = s
	}
	for _, l := range lats {
		r.Latencies = append(r.Latencies, l...)
	}
	return r
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// HomeOps are GET / workers, spread over the web URLs.
func HomeOps(urls []string, conns int, cookies bool) []Op {
	ops := make([]Op, conns)
	for i := range ops {
		c := NewClient(urls[i%len(urls)], cookies)
		ops[i] = func(ctx context.Context) error {
			status, err := c.Get(ctx, "/")
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("GET /: status %d", status)
			}
			return err
		}
	}
	return ops
}

// HomeRawOps are GET / workers on RawGetter connections (the lean client), spread over the web URLs.
func HomeRawOps(urls []string, conns int, cookies bool) ([]Op, error) {
	ops := make([]Op, conns)
	for i := range ops {
		g, err := NewRawGetter(urls[i%len(urls)], "/", cookies)
		if err != nil {
			return nil, err
		}
		ops[i] = func(ctx context.Context) error {
			status, n, err := g.Get(ctx)
			switch {
			case err != nil:
				return err
			case status != http.StatusOK:
				return fmt.Errorf("GET /: status %d", status)
			case n == 0:
				return errors.New("GET /: empty body")
			}
			return nil
		}
	}
	return ops, nil
}

// Viewer is a POST /record-viewing worker: it fetched / once for its session and CSRF token, and
// records viewings of one video, remembering the trace id of every viewing the server accepted (in
// order), so that the stream can be checked afterwards.
type Viewer struct {
	Client  *Client
	VideoID string
	Traces  []string
	Unknown int        // requests that failed without an answer: their outcome is unknown
	raw     *RawGetter // the lean client, when the viewer uses one (UseRaw)
}

// UseRaw makes the viewer post through a RawGetter (the lean client, like wrk) with the session
// cookie and CSRF token its Client got from the home page.
func (v *Viewer) UseRaw() error {
	cookie, err := v.sessionCookie()
	if err != nil {
		return err
	}
	v.raw, err = NewRawPoster(v.Client.Base, "/record-viewing/"+v.VideoID, cookie, v.Client.Token)
	return err
}

// sessionCookie is the "name=value" of the session cookie the viewer's home page set; it fails when
// the page gave no cookie or no CSRF token.
func (v *Viewer) sessionCookie() (string, error) {
	u, err := url.Parse(v.Client.Base)
	if err != nil {
		return "", err
	}
	var cookie string
	if v.Client.http.Jar != nil {
		for _, c := range v.Client.http.Jar.Cookies(u) {
			if c.Name == sessionCookieName {
				cookie = c.Name + "=" + c.Value
			}
		}
	}
	if cookie == "" || v.Client.Token == "" {
		return "", errors.New("POST: the home page gave no session cookie or CSRF token")
	}
	return cookie, nil
}

// NewViewers returns conns viewers spread over urls. With shared, every viewer records DemoVideoID
// (the book's home page button: one hot stream); otherwise each records a fresh video of its own.
func NewViewers(ctx context.Context, urls []string, conns int, shared bool) ([]*Viewer, error) {
	vs := make([]*Viewer, conns)
	for i := range vs {
		v := &Viewer{Client: NewClient(urls[i%len(urls)], true), VideoID: uuid.NewString()}
		if shared {
			v.VideoID = DemoVideoID
		}
		if _, err := v.Client.Page(ctx, "/"); err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

// Op records one viewing.
func (v *Viewer) Op(ctx context.Context) error {
	var status int
	var trace string
	var err error
	if v.raw != nil {
		status, _, err = v.raw.Get(ctx)
		trace = v.raw.Trace()
	} else {
		status, trace, err = v.Client.Post(ctx, "/record-viewing/"+v.VideoID, nil)
	}
	if err != nil {
		v.Unknown++
		return err
	}
	if status != http.StatusSeeOther {
		return fmt.Errorf("POST /record-viewing: status %d", status)
	}
	v.Traces = append(v.Traces, trace)
	return nil
}

// ViewerOps returns the viewers' ops.
func ViewerOps(vs []*Viewer) []Op {
	ops := make([]Op, len(vs))
	for i, v := range vs {
		ops[i] = v.Op
	}
	return ops
}

// VerifyViewings checks every viewer's stream (each viewer must have a video of its own): the
// stream holds exactly the viewings the server accepted, in the order they were accepted, at
// positions 0..n-1.
func VerifyViewings(ctx context.Context, db *pgxpool.Pool, vs []*Viewer) (checked int, err error) {
	var errs []error
	for _, v := range vs {
		if v.Unknown > 0 {
			errs = append(errs, fmt.Errorf("video %s: %d requests without an answer; cannot verify", v.VideoID, v.Unknown))
			continue
		}
		rows, err := db.Query(ctx, `SELECT position, coalesce(metadata->>'traceId', '') FROM message_store.messages
			WHERE stream_name = $1 ORDER BY position`, "viewing-"+v.VideoID)
		if err != nil {
			return checked, err
		}
		type row struct {
			pos   int64
			trace string
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			return x, r.Scan(&x.pos, &x.trace)
		})
		if err != nil {
			return checked, err
		}
		if len(got) != len(v.Traces) {
			errs = append(errs, fmt.Errorf("video %s: %d viewings accepted, %d in the stream", v.VideoID, len(v.Traces), len(got)))
			continue
		}
		for i, r := range got {
			if r.pos != int64(i) || r.trace != v.Traces[i] {
				errs = append(errs, fmt.Errorf("video %s: message %d is at position %d with trace %s, want trace %s",
					v.VideoID, i, r.pos, r.trace, v.Traces[i]))
				break
			}
		}
		checked += len(got)
	}
	return checked, errors.Join(errs...)
}

// VisibleResult is the end-to-end latency of viewings: from the POST's answer until the home page
// view (the pages row 'home') has counted the viewing.
type VisibleResult struct {
	Mode      string
	Latencies Latencies
	PostLat   Latencies
	Errors    int
	FirstErr  string
}

func (r VisibleResult) String() string {
	s := fmt.Sprintf("viewing visible in the home view (%s), after the POST returned: %s\n  the POSTs themselves: %s",
		r.Mode, r.Latencies.Summary(), r.PostLat.Summary())
	if r.Errors > 0 {
		s += fmt.Sprintf("\n  %d errors (first: %s)", r.Errors, r.FirstErr)
	}
	return s
}

// ProbeVisible records n viewings one after the other, each of a fresh video, and measures how
// long after the POST returned the home page view counts it. mode "db" polls the pages row's
// watermark (lastViewProcessed) against the viewing's global position, every poll interval, which
// identifies this viewing even under load; mode "page" polls GET / for the count to go up, which is
// what a visitor sees, and is only meaningful when nothing else records viewings.
func ProbeVisible(ctx context.Context, base string, db *pgxpool.Pool, mode string, n int, gap, poll time.Duration) VisibleResult {
	res := VisibleResult{Mode: mode}
	c := NewClient(base, true)
	defer c.Close()
	fail := func(err error) {
		res.Errors++
		if res.FirstErr == "" {
			res.FirstErr = err.Error()
		}
	}
	if _, err := c.Page(ctx, "/"); err != nil {
		fail(err)
		return res
	}
	const visibleSQL = `SELECT coalesce((SELECT (page_data->>'lastViewProcessed')::bigint FROM pages WHERE page_name = 'home'), -1)
		>= coalesce((SELECT max(global_position) FROM message_store.messages WHERE stream_name = $1), 9223372036854775807)`
	for i := 0; i < n && ctx.Err() == nil; i++ {
		video := uuid.NewString()
		var before int64
		if mode == "page" {
			var err error
			if before, err = c.HomeCount(ctx); err != nil {
				fail(err)
				continue
			}
		}
		t0 := time.Now()
		status, _, err := c.Post(ctx, "/record-viewing/"+video, nil)
		if err == nil && status != http.StatusSeeOther {
			err = fmt.Errorf("POST /record-viewing: status %d", status)
		}
		if err != nil {
			fail(err)
			continue
		}
		t1 := time.Now()
		res.PostLat = append(res.PostLat, t1.Sub(t0))
		deadline := t1.Add(10 * time.Second)
		for {
			var visible bool
			if mode == "page" {
				n, err := c.HomeCount(ctx)
				visible = err == nil && n > before
			} else {
				err = db.QueryRow(ctx, visibleSQL, "viewing-"+video).Scan(&visible)
			}
			if err != nil {
				fail(err)
				break
			}
			if visible {
				res.Latencies = append(res.Latencies, time.Since(t1))
				break
			}
			if time.Now().After(deadline) {
				fail(fmt.Errorf("viewing of %s not visible after 10s", video))
				break
			}
			if poll > 0 {
				time.Sleep(poll)
			}
		}
		sleep(ctx, gap)
	}
	return res
}

// RegisterResult is the registration flow's timing.
type RegisterResult struct {
	Post       Latencies // GET /register excluded; POST /register until its 303
	SentStart  Latencies // RegistrationEmailSent recorded, from the start of the POST
	SentReturn Latencies // … from the POST's answer
	Rate       float64   // registrations per second, end to end (email sent)
	Errors     int
	FirstErr   string
	Usage      []Usage
}

func (r RegisterResult) String() string {
	s := fmt.Sprintf("registration: %.1f registrations/s end to end\n  POST /register: %s\n  RegistrationEmailSent after the POST started: %s\n  RegistrationEmailSent after the POST returned: %s",
		r.Rate, r.Post.Summary(), r.SentStart.Summary(), r.SentReturn.Summary())
	if r.Errors > 0 {
		s += fmt.Sprintf("\n  %d errors (first: %s)", r.Errors, r.FirstErr)
	}
	for _, u := range r.Usage {
		s += "\n  " + u.String()
	}
	return s
}

// Register runs n registrations on each of conns clients (one after the other per client): GET
// /register, POST /register (a fresh user id and email), then waits for RegistrationEmailSent in the
// user's identity stream, woken by the message store's NOTIFY (which the program sends for every
// write) and polling every poll as a fallback.
func Register(ctx context.Context, urls []string, db *pgxpool.Pool, conns, n int, poll time.Duration, sampler *Sampler) RegisterResult {
	var res RegisterResult
	var mu sync.Mutex
	w := newWaker(ctx, db)
	defer w.close()
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if res.FirstErr == "" {
			res.FirstErr = err.Error()
		}
	}
	if sampler != nil {
		sampler.Start()
	}
	start := time.Now()
	var done atomic.Int64
	var wg sync.WaitGroup
	for ci := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient(urls[ci%len(urls)], true)
			defer c.Close()
			for range n {
				if ctx.Err() != nil {
					return
				}
				if _, err := c.Page(ctx, "/register"); err != nil {
					fail(err)
					continue
				}
				userID := uuid.NewString()
				form := url.Values{"userId": {userID}, "email": {"load-" + userID + "@example.com"},
					"password": {"correct horse battery"}, "_csrf": {c.Token}}
				t0 := time.Now()
				status, _, err := c.Post(ctx, "/register", form)
				if err == nil && status != http.StatusSeeOther {
					err = fmt.Errorf("POST /register: status %d", status)
				}
				if err != nil {
					fail(err)
					continue
				}
				t1 := time.Now()
				stream := "identity-" + userID
				deadline := t1.Add(30 * time.Second)
				for {
					wake := w.wait()
					var sent bool
					err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM message_store.messages
						WHERE stream_name = $1 AND type = 'RegistrationEmailSent')`, stream).Scan(&sent)
					if err != nil {
						fail(err)
						break
					}
					if sent {
						t2 := time.Now()
						mu.Lock()
						res.Post = append(res.Post, t1.Sub(t0))
						res.SentStart = append(res.SentStart, t2.Sub(t0))
						res.SentReturn = append(res.SentReturn, t2.Sub(t1))
						mu.Unlock()
						done.Add(1)
						break
					}
					if time.Now().After(deadline) {
						fail(fmt.Errorf("no RegistrationEmailSent in %s after 30s", stream))
						break
					}
					select {
					case <-wake:
					case <-time.After(poll):
					case <-ctx.Done():
					}
				}
			}
		}()
	}
	wg.Wait()
	res.Rate = float64(done.Load()) / time.Since(start).Seconds()
	if sampler != nil {
		res.Usage = sampler.Stop()
	}
	return res
}

// waker LISTENs to the message store's NOTIFY channel: wait returns a channel closed by the next
// notification.
type waker struct {
	mu     sync.Mutex
	ch     chan struct{}
	cancel context.CancelFunc
}

func newWaker(ctx context.Context, db *pgxpool.Pool) *waker {
	ctx, cancel := context.WithCancel(ctx)
	w := &waker{ch: make(chan struct{}), cancel: cancel}
	go func() {
		conn, err := db.Acquire(ctx)
		if err != nil {
			return
		}
		defer func() { conn.Hijack().Close(context.Background()) }()
		if _, err := conn.Exec(ctx, `LISTEN message_store`); err != nil {
			return
		}
		for {
			if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
				return
			}
			w.mu.Lock()
			close(w.ch)
			w.ch = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *waker) close() { w.cancel() }
