package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"videotutorials/app/home"
	"videotutorials/messagestore"
)

// scrape is one /metrics page: series (name with its labels, as printed) → value.
type scrape map[string]float64

var seriesLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$`)

func parseScrape(t *testing.T, body string) scrape {
	t.Helper()
	s := scrape{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := seriesLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s[m[1]] = v
	}
	return s
}

// value is the series of family whose labels include every one of labels (`name="value"` each);
// ok is false when there is none. With several, their sum.
func (s scrape) value(family string, labels ...string) (v float64, ok bool) {
	for series, x := range s {
		name, rest, _ := strings.Cut(series, "{")
		if name != family {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
			}
		}
		if match {
			v, ok = v+x, true
		}
	}
	return v, ok
}

func scrapeURL(t *testing.T, u string) scrape {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return parseScrape(t, string(b))
}

// Through the whole program: each family of /metrics appears, and moves when requests come in and
// messages flow. Every subscription of every contract has its position, lag and counters.
func TestMetricsFamiliesAppearAndMove(t *testing.T) {
	p := startProgram(t)
	contracts, err := systemContracts()
	if err != nil {
		t.Fatal(err)
	}
	var subscribers []string
	for _, c := range contracts {
		for _, s := range c.Subscribes {
			subscribers = append(subscribers, s.SubscriberID)
		}
	}
	metricsURL := p.base + "/metrics"
	label := func(k, v string) string { return k + `="` + v + `"` }

	// Every subscription is reported once it runs (leases are taken within moments).
	var before scrape
	eventually(t, "position and lag of every subscription", func() bool {
		before = scrapeURL(t, metricsURL)
		for _, id := range subscribers {
			if _, ok := before.value("videotutorials_subscriber_position", label("subscriber", id)); !ok {
				return false
			}
			if _, ok := before.value("videotutorials_subscriber_lag", label("subscriber", id)); !ok {
				return false
			}
		}
		return true
	})
	for _, id := range subscribers {
		for _, family := range []string{"videotutorials_messages_handled_total", "videotutorials_messages_failed_total"} {
			if _, ok := before.value(family, label("subscriber", id)); !ok {
				t.Errorf("%s has no series for %s", family, id)
			}
		}
	}

	// A registration, a viewing and a missing page.
	v := p.visitor()
	userID, res := v.register(freshE2EEmail(), "metrics password")
	if res.status != http.StatusSeeOther {
		t.Fatalf("register: %d", res.status)
	}
	eventually(t, "RegistrationEmailSent", func() bool { return count(p.identityEvents(userID), "RegistrationEmailSent") == 1 })
	if res := v.submit(v.get("/"), "/", "/record-viewing/"+home.DemoVideoID, url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("record viewing: %d", res.status)
	}
	if res := v.get("/no-such-page"); res.status != http.StatusNotFound {
		t.Fatalf("missing page: %d", res.status)
	}

	var after scrape
	eventually(t, "the subscribers to catch up", func() bool {
		after = scrapeURL(t, metricsURL)
		lag, ok := after.value("videotutorials_subscriber_lag")
		pos, _ := after.value("videotutorials_subscriber_position", label("subscriber", "aggregators:home-page"))
		was, _ := before.value("videotutorials_subscriber_position", label("subscriber", "aggregators:home-page"))
		return ok && lag == 0 && pos > was
	})
	moved := func(what, family string, labels ...string) {
		t.Helper()
		b, _ := before.value(family, labels...)
		a, ok := after.value(family, labels...)
		if !ok || a <= b {
			t.Errorf("%s did not move: %s%v went from %v to %v (present: %v)", what, family, labels, b, a, ok)
		}
	}
	// HTTP: requests and latency by route and status.
	moved("POST /register", "videotutorials_http_requests_total", label("route", "/register"), label("method", "POST"), label("status", "303"))
	moved("GET /register", "videotutorials_http_requests_total", label("route", "/register"), label("method", "GET"), label("status", "200"))
	moved("a 404", "videotutorials_http_requests_total", label("status", "404"))
	moved("POST /register latency", "videotutorials_http_request_duration_seconds_count", label("route", "/register"), label("method", "POST"))
	moved("record-viewing", "videotutorials_http_requests_total", label("route", "/record-viewing/:videoId"), label("status", "303"))
	// Messages written by category.
	for _, cat := range []string{"identity:command", "identity", "sendEmail:command", "sendEmail", "viewing"} {
		moved("writes to "+cat, "videotutorials_messages_written_total", label("category", cat))
	}
	// Handled, handler latency and position per subscriber.
	for _, id := range []string{"components:identity:command", "components:identity", "components:send-email",
		"components:identity:sendEmailEvents", "aggregators:user-credentials", "aggregators:admin-users",
		"aggregators:home-page", "aggregators:creators-videos:viewings", "aggregators:admin-streams"} {
		moved(id+" handled", "videotutorials_messages_handled_total", label("subscriber", id))
		moved(id+" handler latency", "videotutorials_handler_duration_seconds_count", label("subscriber", id))
		moved(id+" position", "videotutorials_subscriber_position", label("subscriber", id))
	}
	// Parked subscriptions: none.
	if v, ok := after.value("videotutorials_subscriptions_parked"); !ok || v != 0 {
		t.Errorf("videotutorials_subscriptions_parked = %v (present %v), want 0", v, ok)
	}
	// Database pool statistics.
	moved("views pool acquires", "videotutorials_db_pool_acquires_total", label("pool", "views"))
	for _, family := range []string{"videotutorials_db_pool_connections", "videotutorials_db_pool_idle_connections",
		"videotutorials_db_pool_acquired_connections", "videotutorials_db_pool_max_connections",
		"videotutorials_db_pool_empty_acquires_total", "videotutorials_db_pool_acquire_wait_seconds_total"} {
		if _, ok := after.value(family, label("pool", "views")); !ok {
			t.Errorf("/metrics lacks %s", family)
		}
	}
	if v, _ := after.value("videotutorials_db_pool_max_connections", label("pool", "views")); v < 1 {
		t.Errorf("max connections %v", v)
	}
	p.stop()
}

// With a real store and supervisor: a failing handler counts failures, parks the subscription (the
// parked gauge goes to 1 and its lag is above 0), and a retry that succeeds brings both back to 0.
func TestMetricsFailuresParkingAndLag(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), e2eDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := newMetrics()
	store := messagestore.New(pool, messagestore.Options{Logger: quiet, Observer: m})

	category := "metricsProbe" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	subscriberID := "test:metrics:" + uuid.NewString()
	var failing atomic.Bool
	sub, err := store.Subscribe(messagestore.SubscriptionConfig{
		SubscriberID: subscriberID, Category: category,
		Handlers: map[string]messagestore.Handler{"Probe": func(context.Context, messagestore.Message) error {
			if failing.Load() {
				return errors.New("the probe fails on purpose")
			}
			return nil
		}},
		MaxAttempts: 2, RetryBackoff: 5 * time.Millisecond, MinPollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond,
		Logger: quiet,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sup := messagestore.NewSupervisor(store, nil, sub)
	m.watch(sup, store, &databases{views: pool, store: pool})
	done := make(chan struct{}, 2)
	go func() { store.Run(ctx); done <- struct{}{} }()
	go func() { sup.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	srv := httptest.NewServer(m.handler())
	defer srv.Close()

	sel := `subscriber="` + subscriberID + `"`
	get := func(s scrape, family string) float64 { v, _ := s.value(family, sel); return v }
	write := func() {
		t.Helper()
		if _, err := store.Write(ctx, category+"-"+uuid.NewString(), messagestore.AnyVersion,
			messagestore.NewMessage{Type: "Probe", Data: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
	}
	if s := scrapeURL(t, srv.URL); get(s, "videotutorials_messages_handled_total") != 0 {
		t.Fatalf("handled before any message")
	}

	write()
	eventually(t, "one message handled, lag 0", func() bool {
		s := scrapeURL(t, srv.URL)
		_, hasLag := s.value("videotutorials_subscriber_lag", sel)
		return get(s, "videotutorials_messages_handled_total") == 1 && hasLag && get(s, "videotutorials_subscriber_lag") == 0 &&
			get(s, "videotutorials_subscriber_position") > 0
	})

	failing.Store(true)
	write()
	var parked scrape
	eventually(t, "the subscription parked", func() bool {
		parked = scrapeURL(t, srv.URL)
		v, _ := parked.value("videotutorials_subscriptions_parked")
		return v == 1
	})
	if f := get(parked, "videotutorials_messages_failed_total"); f < 2 {
		t.Errorf("failed_total %v, want at least 2 (MaxAttempts)", f)
	}
	if lag := get(parked, "videotutorials_subscriber_lag"); lag <= 0 {
		t.Errorf("lag of a parked subscription %v, want > 0", lag)
	}

	failing.Store(false)
	sub.Retry()
	eventually(t, "the retry to succeed", func() bool {
		s := scrapeURL(t, srv.URL)
		p, _ := s.value("videotutorials_subscriptions_parked")
		return p == 0 && get(s, "videotutorials_messages_handled_total") == 2 && get(s, "videotutorials_subscriber_lag") == 0
	})
}

// A client can send any token as the method; the request metrics label the unknown ones "other",
// so that nobody can grow the registry with a series per made-up method.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	m := newMetrics()
	e := echo.New()
	e.Use(m.middleware)
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for _, method := range []string{"GET", "FOO123", "BAR456", "PROPFIND"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/x", nil))
	}
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	s := parseScrape(t, rec.Body.String())
	if v, ok := s.value("videotutorials_http_requests_total", `method="GET"`); !ok || v != 1 {
		t.Errorf("GET requests: %v, %v; want 1", v, ok)
	}
	if v, ok := s.value("videotutorials_http_requests_total", `method="other"`); !ok || v != 3 {
		t.Errorf("requests with other methods: %v, %v; want 3", v, ok)
	}
	for _, made := range []string{"FOO123", "BAR456", "PROPFIND"} {
		if strings.Contains(rec.Body.String(), made) {
			t.Errorf("the metrics name the made-up method %s", made)
		}
	}
}
