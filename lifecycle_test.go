package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
)

var (
	lifecycleDBOnce sync.Once
	lifecycleDBURL  string
	lifecycleDBErr  error
)

// lifecycleDatabase starts one throw-away database for this file's tests (or uses TEST_DATABASE_URL).
// The server dies with the test binary.
func lifecycleDatabase(t *testing.T) string {
	t.Helper()
	lifecycleDBOnce.Do(func() { lifecycleDBURL, _, lifecycleDBErr = devdb.ForTests() })
	if lifecycleDBErr != nil {
		t.Fatal(lifecycleDBErr)
	}
	return lifecycleDBURL
}

func TestProgramStartsServesHealthAndStopsCleanly(t *testing.T) {
	dbURL := lifecycleDatabase(t)
	dir := t.TempDir()
	cfg, err := parseConfig([]string{"-port", "0"}, env(map[string]string{
		"DATABASE_URL": dbURL, "DEV_DATA_DIR": dir, "SESSION_SECRET": strings.Repeat("s", 40)}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz %d %q", code, body)
	}
	// Subscriptions need a moment to take their leases; readiness does not depend on that.
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("/readyz %d %q", code, body)
	}
	get("/no-such-page")
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, family := range []string{"videotutorials_http_requests_total", "videotutorials_http_request_duration_seconds",
		"videotutorials_subscriptions_parked", "videotutorials_db_pool_connections", "go_goroutines"} {
		if !strings.Contains(body, family) {
			t.Errorf("/metrics lacks %s", family)
		}
	}
	if !regexp.MustCompile(`videotutorials_http_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]`).MatchString(body) {
		t.Errorf("/healthz request not counted:\n%s", grep(body, "http_requests_total"))
	}

	stop()
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func grep(s, sub string) string {
	var out bytes.Buffer
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}

func TestReadmeDocumentsEverySetting(t *testing.T) {
	var out bytes.Buffer
	parseConfig([]string{"-h"}, env(nil), &out)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`\[\$([A-Z_]+)\]`).FindAllStringSubmatch(out.String(), -1)
	if len(names) < 15 {
		t.Fatalf("found only %d settings in -h", len(names))
	}
	for _, m := range names {
		if !strings.Contains(string(readme), "`"+m[1]+"`") {
			t.Errorf("README does not document %s", m[1])
		}
	}
}

// The writing pools plan each prepared statement once (preferGenericPlans); a URL that sets
// plan_cache_mode itself is obeyed, and the web apps' read-only pool keeps PostgreSQL's default.
func TestPoolsPreferGenericPlansUnlessTheURLSaysOtherwise(t *testing.T) {
	dbURL := lifecycleDatabase(t)
	ctx := context.Background()
	mode := func(p *pgxpool.Pool) string {
		t.Helper()
		defer p.Close()
		var m string
		if err := p.QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := newPool(ctx, dbURL, 2, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(p); m != "force_generic_plan" {
		t.Errorf("newPool: plan_cache_mode = %q, want force_generic_plan", m)
	}
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	if p, err = newPool(ctx, dbURL+sep+"plan_cache_mode=force_custom_plan", 2, quietLog); err != nil {
		t.Fatal(err)
	}
	if m := mode(p); m != "force_custom_plan" {
		t.Errorf("newPool with plan_cache_mode in the URL: %q, want force_custom_plan", m)
	}
	if p, err = newReadOnlyPool(ctx, dbURL, 2, quietLog); err != nil {
		t.Fatal(err)
	}
	if m := mode(p); m != "auto" {
		t.Errorf("newReadOnlyPool: plan_cache_mode = %q, want auto", m)
	}
}

// The pools' settings are SET after connecting, never sent as startup parameters (PgBouncer refuses
// those it does not know, and the program could not connect through it); the read-only pool stays
// read-only whatever the URL says.
func TestPoolSettingsAreNotStartupParameters(t *testing.T) {
	dbURL := lifecycleDatabase(t)
	ctx := context.Background()
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := newPool(ctx, dbURL, 2, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if params := p.Config().ConnConfig.RuntimeParams; len(params) != 0 {
		t.Errorf("newPool sends startup parameters %v", params)
	}
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	ro, err := newReadOnlyPool(ctx, dbURL+sep+"default_transaction_read_only=off", 2, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if params := ro.Config().ConnConfig.RuntimeParams; len(params) != 0 {
		t.Errorf("newReadOnlyPool sends startup parameters %v", params)
	}
	var on string
	if err := ro.QueryRow(ctx, `SHOW default_transaction_read_only`).Scan(&on); err != nil || on != "on" {
		t.Errorf("read-only pool: default_transaction_read_only = %q (%v), want on", on, err)
	}
	if _, err := ro.Exec(ctx, `CREATE TEMP TABLE ro_check (x int)`); err == nil {
		t.Error("the read-only pool wrote")
	}
}

// A refusal that waiting cannot cure ends the wait for the database at once, with the server's reason,
// instead of retrying for 30 s; the deadline below is shorter than that wait.
func TestConnectGivesUpOnAPermanentRefusal(t *testing.T) {
	dbURL := lifecycleDatabase(t)
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pc.ConnConfig.Database = "no_such_database_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := connect(ctx, pc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var pgErr *pgconn.PgError
	if err == nil {
		p.Close()
		t.Fatal("connected to a database that does not exist")
	}
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		t.Fatalf("err = %v, want the server's 3D000", err)
	}
}

// A process without the web role still answers the operations endpoints on its port (an orchestrator
// checks workers too, and a worker's subscriptions are only visible in its own metrics), and nothing
// else.
func TestWorkerServesOnlyTheOperationsEndpoints(t *testing.T) {
	dbURL := lifecycleDatabase(t)
	cfg, err := parseConfig([]string{"-port", "0"}, env(map[string]string{
		"DATABASE_URL": dbURL, "DEV_DATA_DIR": t.TempDir(), "ROLES": "components,aggregators"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	want := map[string]struct {
		code int
		body string
	}{
		"/healthz": {200, "ok"},
		"/readyz":  {200, `"ready":true`},
		"/metrics": {200, "process_resident_memory_bytes"},
		"/":        {404, ""},
		"/admin":   {404, ""},
	}
	for path, w := range want {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != w.code || !strings.Contains(string(b), w.body) {
			t.Errorf("GET %s: %d %.80q, want %d with %q", path, resp.StatusCode, b, w.code, w.body)
		}
	}
	stop()
}

// startRun runs the program with cfg as main does and returns the base URL it listens on, and stop,
// which shuts it down and fails the test unless it stops cleanly in time.
func startRun(t *testing.T, cfg Config) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a net.Addr) { addrCh <- a })
	}()
	select {
	case a := <-addrCh:
		base = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("run returned early: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("program did not start")
	}
	return base, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run after shutdown: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("program did not shut down")
		}
	}
}
