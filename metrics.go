package main

import (
	"context"
	"net/http"
	"strconv"
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
	position       *prometheus.GaugeVec
	lag            *prometheus.GaugeVec
	parked         prometheus.GaugeFunc
	parkedFn       func() float64
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
	m.position = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "videotutorials_subscriber_position", Help: "Global position of the last message a subscriber dealt with."},
		[]string{"subscriber", "category"})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "videotutorials_subscriber_lag", Help: "Messages between a subscriber's position and its category's head (global positions)."},
		[]string{"subscriber", "category"})
	m.parkedFn = func() float64 { return 0 }
	m.parked = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "videotutorials_subscriptions_parked", Help: "Subscriptions parked on a message that keeps failing."},
		func() float64 { return m.parkedFn() })
	m.reg.MustRegister(m.httpRequests, m.httpLatency, m.written, m.handled, m.failed, m.handlerLatency, m.parked)
	return m
}

// MessagesWritten implements messagestore.Observer.
func (m *metrics) MessagesWritten(category string, n int) {
	m.written.WithLabelValues(category).Add(float64(n))
}

// MessageHandled implements messagestore.Observer.
func (m *metrics) MessageHandled(sub string, d time.Duration) {
	m.handled.WithLabelValues(sub).Inc()
	m.handlerLatency.WithLabelValues(sub).Observe(d.Seconds())
}

// MessageFailed implements messagestore.Observer.
func (m *metrics) MessageFailed(sub string) { m.failed.WithLabelValues(sub).Inc() }

// SubscriptionPosition implements messagestore.Observer.
func (m *metrics) SubscriptionPosition(sub string, position, head int64) {}

// watch registers the collectors that read live state: subscriptions and pool statistics.
func (m *metrics) watch(sup *messagestore.Supervisor, store *messagestore.Store, d *databases) {
	m.parkedFn = func() float64 { return float64(len(sup.Parked())) }
	m.reg.MustRegister(&subscriberCollector{m: m, sup: sup, store: store})
	m.reg.MustRegister(newPoolCollector("views", d.views))
	if d.store != d.views {
		m.reg.MustRegister(newPoolCollector("store", d.store))
	}
}

// subscriberCollector sets position and lag at scrape time, so idle processes run no queries for it.
type subscriberCollector struct {
	m     *metrics
	sup   *messagestore.Supervisor
	store *messagestore.Store
}

func (c *subscriberCollector) Describe(ch chan<- *prometheus.Desc) {
	c.m.position.Describe(ch)
	c.m.lag.Describe(ch)
}

func (c *subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	heads := map[string]int64{}
	for _, sub := range c.sup.Subscriptions() {
		st := sub.Status()
		head, ok := heads[st.Category]
		if !ok {
			head, _ = c.store.CategoryHead(ctx, st.Category)
			heads[st.Category] = head
		}
		c.m.position.WithLabelValues(st.SubscriberID, st.Category).Set(float64(st.Position))
		c.m.lag.WithLabelValues(st.SubscriberID, st.Category).Set(float64(max(0, head-st.Position)))
	}
	c.m.position.Collect(ch)
	c.m.lag.Collect(ch)
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
		m.httpRequests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.httpLatency.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
		return err
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
