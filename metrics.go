package main

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"videotutorials/messagestore"
)

// metrics is the program's Prometheus registry (its own, not the global one) and the observer the
// message store reports to.
type metrics struct {
	reg            *prometheus.Registry
	httpRequests   *prometheus.CounterVec
	httpLatency    *prometheus.HistogramVec
	written        *prometheus.CounterVec
	handled        *prometheus.CounterVec
	failed         *prometheus.CounterVec
	handlerLatency *prometheus.HistogramVec
	position       *prometheus.Desc
	lag            *prometheus.Desc
	parked         prometheus.GaugeFunc
	parkedFn       func() float64

	// The series each request, write and handled message updates, by their label values (series).
	httpSeries    series[httpLabels, httpSeries]
	writtenSeries series[string, prometheus.Counter]
	subSeries     series[string, subscriberSeries]
}

// series caches the series of metric vectors by their label values, so that the calls made for every
// request and every message handled load them from a map instead of hashing the label values and
// taking each vector's lock (those look-ups were about 3 % of the program's CPU under the viewing
// load). Every label set here is bounded: routes, methods and statuses; the categories this process
// writes; its subscribers.
type series[K comparable, V any] struct{ m sync.Map }

func (c *series[K, V]) get(k K, newSeries func() V) V {
	if v, ok := c.m.Load(k); ok {
		return v.(V)
	}
	v, _ := c.m.LoadOrStore(k, newSeries())
	return v.(V)
}

type httpLabels struct {
	route, method string
	status        int
}

type httpSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

type subscriberSeries struct {
	handled, failed prometheus.Counter
	latency         prometheus.Observer
}

func (m *metrics) subscriber(sub string) subscriberSeries {
	return m.subSeries.get(sub, func() subscriberSeries {
		return subscriberSeries{handled: m.handled.WithLabelValues(sub), failed: m.failed.WithLabelValues(sub),
			latency: m.handlerLatency.WithLabelValues(sub)}
	})
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "videotutorials_http_requests_total", Help: "HTTP requests by route, method and status."},
		[]string{"route", "method", "status"})
	m.httpLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "videotutorials_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}},
		[]string{"route", "method"})
	m.written = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "videotutorials_messages_written_total", Help: "Messages written to the message store by category."},
		[]string{"category"})
	m.handled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "videotutorials_messages_handled_total", Help: "Messages handled per subscriber."},
		[]string{"subscriber"})
	m.failed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "videotutorials_messages_failed_total", Help: "Handler failures per subscriber (each retry counts)."},
		[]string{"subscriber"})
	m.handlerLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "videotutorials_handler_duration_seconds", Help: "Message handler latency per subscriber.",
		Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}},
		[]string{"subscriber"})
	m.position = prometheus.NewDesc("videotutorials_subscriber_position",
		"Global position of the last message a subscriber dealt with (subscriptions this process runs).",
		[]string{"subscriber", "category"}, nil)
	m.lag = prometheus.NewDesc("videotutorials_subscriber_lag",
		"Global positions between a subscriber's position and its category's head (subscriptions this process runs).",
		[]string{"subscriber", "category"}, nil)
	m.parkedFn = func() float64 { return 0 }
	m.parked = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "videotutorials_subscriptions_parked", Help: "Subscriptions parked on a message that keeps failing."},
		func() float64 { return m.parkedFn() })
	m.reg.MustRegister(m.httpRequests, m.httpLatency, m.written, m.handled, m.failed, m.handlerLatency, m.parked)
	return m
}

// MessagesWritten implements messagestore.Observer.
func (m *metrics) MessagesWritten(category string, n int) {
	m.writtenSeries.get(category, func() prometheus.Counter { return m.written.WithLabelValues(category) }).Add(float64(n))
}

// MessageHandled implements messagestore.Observer.
func (m *metrics) MessageHandled(sub string, d time.Duration) {
	s := m.subscriber(sub)
	s.handled.Inc()
	s.latency.Observe(d.Seconds())
}

// MessageFailed implements messagestore.Observer.
func (m *metrics) MessageFailed(sub string) { m.subscriber(sub).failed.Inc() }

// watch registers the collectors that read live state: subscriptions and pool statistics. Every
// subscription's counters start at zero, so each subscriber has its series before its first message.
func (m *metrics) watch(sup *messagestore.Supervisor, store *messagestore.Store, d *databases) {
	m.parkedFn = func() float64 { return float64(len(sup.Parked())) }
	for _, sub := range sup.Subscriptions() {
		m.subscriber(sub.SubscriberID())
	}
	m.reg.MustRegister(&subscriberCollector{m: m, sup: sup, store: store})
	m.reg.MustRegister(newPoolCollector("views", d.views))
	if d.store != d.views {
		m.reg.MustRegister(newPoolCollector("store", d.store))
	}
}

// subscriberCollector reports position and lag at scrape time, so idle processes run no queries
// for it. A subscription another process holds (standby) is left out: its holder reports it, and
// this process's copy of its position is stale.
type subscriberCollector struct {
	m     *metrics
	sup   *messagestore.Supervisor
	store *messagestore.Store
}

func (c *subscriberCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.position
	ch <- c.m.lag
}

func (c *subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	heads := map[string]int64{}
	for _, sub := range c.sup.Subscriptions() {
		st := sub.Status()
		if st.State == messagestore.StateStandby || st.State == messagestore.StateStopped {
			continue
		}
		head, ok := heads[st.Category]
		if !ok {
			var err error
			if head, err = c.store.CategoryHead(ctx, st.Category); err != nil {
				head = -1 // unknown: report the position, not a made-up lag
			}
			heads[st.Category] = head
		}
		ch <- prometheus.MustNewConstMetric(c.m.position, prometheus.GaugeValue, float64(st.Position), st.SubscriberID, st.Category)
		if head >= 0 {
			ch <- prometheus.MustNewConstMetric(c.m.lag, prometheus.GaugeValue, float64(max(0, head-st.Position)), st.SubscriberID, st.Category)
		}
	}
}

// middleware records every request by its route pattern (never the raw path: ids would explode the
// label set).
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if he, ok := err.(*echo.HTTPError); ok && !c.Response().Committed {
			status = he.Code
		}
		method := methodLabel(c.Request().Method)
		s := m.httpSeries.get(httpLabels{route, method, status}, func() httpSeries {
			return httpSeries{requests: m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)),
				latency: m.httpLatency.WithLabelValues(route, method)}
		})
		s.requests.Inc()
		s.latency.Observe(time.Since(start).Seconds())
		return err
	}
}

// methodLabel is a request's method as a metrics label: the standard methods as they are, any other
// "other". A client may send any token as a method, and every distinct label value is a new series
// kept for the life of the process.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
