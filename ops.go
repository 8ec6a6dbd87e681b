package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/messagestore"
	"videotutorials/migrations"
)

// healthz answers whether the process is alive. It touches nothing: a slow database must not get a
// live process restarted.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readiness answers whether this process can do its work: both databases reachable, every migration
// applied, no subscription parked. Load balancers take a not-ready process out of rotation.
type readiness struct {
	d          *databases
	supervisor *messagestore.Supervisor
	// migrated remembers that every migration was found applied: they never come undone under a
	// running process, so load balancers' frequent polls need not ask goose again.
	migrated *atomic.Bool
}

type readyReport struct {
	Ready      bool     `json:"ready"`
	Database   string   `json:"database"`
	Migrations string   `json:"migrations"`
	Parked     []string `json:"parkedSubscriptions,omitempty"`
}

func (rd readiness) check(ctx context.Context) readyReport {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := readyReport{Ready: true, Database: "ok", Migrations: "ok"}
	for _, pool := range []interface{ Ping(context.Context) error }{rd.d.views, rd.d.store} {
		if err := pool.Ping(ctx); err != nil {
			r.Ready, r.Database = false, "unreachable: "+err.Error()
		}
	}
	if r.Database == "ok" && !rd.migrated.Load() {
		current := true
		for _, m := range []struct {
			set  migrations.Set
			pool *pgxpool.Pool
		}{{migrations.ViewData, rd.d.views}, {migrations.MessageStore, rd.d.store}} {
			if ok, err := m.set.Current(ctx, m.pool); err != nil || !ok {
				current, r.Ready, r.Migrations = false, false, m.set.Name+" migrations pending"
			}
		}
		rd.migrated.Store(current)
	}
	for _, st := range rd.supervisor.Parked() {
		r.Ready = false
		r.Parked = append(r.Parked, st.SubscriberID)
	}
	return r
}

func (rd readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rep := rd.check(req.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(rep)
}

// serveOps serves /healthz, /readyz and /metrics on addr for a process that runs no web server (ROLES
// without web), so that an orchestrator can check a worker and a scraper can see its subscriptions'
// lag and parked ones: a worker is where they run. Nothing else is served. It stops when ctx ends.
func serveOps(ctx context.Context, addr string, ready http.Handler, m *metrics, log *slog.Logger, started func(net.Addr)) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", ready)
	mux.Handle("GET /metrics", m.handler())
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("ops: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("operations endpoints listening (no web role: /healthz, /readyz, /metrics only)", "addr", ln.Addr().String())
	started(ln.Addr())
	select {
	case err := <-served:
		return fmt.Errorf("ops: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
