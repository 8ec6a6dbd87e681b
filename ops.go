package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

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
	if r.Database == "ok" {
		for _, s := range []struct {
			set migrations.Set
			ok  func() (bool, error)
		}{
			{migrations.ViewData, func() (bool, error) { return migrations.ViewData.Current(ctx, rd.d.views) }},
			{migrations.MessageStore, func() (bool, error) { return migrations.MessageStore.Current(ctx, rd.d.store) }},
		} {
			if ok, err := s.ok(); err != nil || !ok {
				r.Ready, r.Migrations = false, s.set.Name+" migrations pending"
			}
		}
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
