package main

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector exports pgxpool statistics.
type poolCollector struct {
	pool                               *pgxpool.Pool
	total, idle, acquired, acquires    *prometheus.Desc
	waitSeconds, emptyAcquire, maxConn *prometheus.Desc
}

func newPoolCollector(name string, pool *pgxpool.Pool) *poolCollector {
	l := prometheus.Labels{"pool": name}
	d := func(n, help string) *prometheus.Desc {
		return prometheus.NewDesc("videotutorials_db_pool_"+n, help, nil, l)
	}
	return &poolCollector{pool: pool,
		total:        d("connections", "Open connections."),
		idle:         d("idle_connections", "Idle connections."),
		acquired:     d("acquired_connections", "Connections in use."),
		maxConn:      d("max_connections", "Largest pool size."),
		acquires:     d("acquires_total", "Connections acquired."),
		emptyAcquire: d("empty_acquires_total", "Acquires that had to wait for a connection."),
		waitSeconds:  d("acquire_wait_seconds_total", "Time spent waiting for connections."),
	}
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.total, p.idle, p.acquired, p.maxConn, p.acquires, p.emptyAcquire, p.waitSeconds} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(p.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(p.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(p.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(p.maxConn, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(p.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(p.emptyAcquire, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(p.waitSeconds, prometheus.CounterValue, s.AcquireDuration().Seconds())
}
