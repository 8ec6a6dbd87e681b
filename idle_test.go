package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// maxIdleTransactionsPerSecond is what an idle program (all roles) may cost its database: a few
// transactions a second in total. The book's Node program polls every 100 ms per subscription, about
// 130 queries a second.
const maxIdleTransactionsPerSecond = 3.0

// TestIdleProgramCostsAFewQueriesPerSecond starts the whole program (all roles) on a database of its
// own, lets it settle, and counts the transactions the server commits for that database
// (pg_stat_database.xact_commit) over a window. It is a count, not a timing assertion. Afterwards a
// viewing must still reach the home page promptly (a wait with a generous deadline; the latency is
// logged).
func TestIdleProgramCostsAFewQueriesPerSecond(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 110 s")
	}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		t.Skip("needs a server of its own: others' work on a shared one would be counted")
	}
	window := 20 * time.Second
	p := startIdleProgram(t)
	// Idle subscriptions back off from 100 ms to 30 s by doubling: about 50 s until every poll is at
	// its longest.
	rate := p.measure(50*time.Second, window)
	t.Logf("idle program after start: %.2f transactions/s over %s", rate, window)
	if rate > maxIdleTransactionsPerSecond {
		t.Errorf("idle program committed %.2f transactions/s; at most %.1f allowed", rate, maxIdleTransactionsPerSecond)
	}
	dbURL := p.dbURL

	// A new message still reaches its subscriber at once: the home page counts a viewing.
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	other := messagestore.New(pool, messagestore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go other.Run(runCtx) //nolint:errcheck // sends the NOTIFY as another process would
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if _, err := other.Write(ctx, viewingmsg.StreamName(uuid.NewString()), messagestore.AnyVersion,
		messagestore.NewEvent(viewingmsg.VideoViewed{VideoID: uuid.NewString()}, messagestore.Metadata{})); err != nil {
		t.Fatal(err)
	}
	for {
		page, err := viewdata.HomePage(ctx, pool)
		if err == nil && page.VideosWatched == 1 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the viewing written after the idle period did not reach the home page (%+v, %v)", page, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("a viewing written by another process reached the home page after %s", time.Since(start).Round(time.Millisecond))

	// Idle again after work: subscriptions that saved their positions, and the aggregators that read
	// those saves (admin-streams, admin-subscriber-positions), must come to rest rather than answer
	// each other's saves forever.
	rate = p.measure(15*time.Second, window)
	t.Logf("idle program after work: %.2f transactions/s over %s", rate, window)
	if rate > maxIdleTransactionsPerSecond {
		t.Errorf("idle program after work committed %.2f transactions/s; at most %.1f allowed", rate, maxIdleTransactionsPerSecond)
	}
}

type idleProgram struct {
	t       *testing.T
	dbURL   string
	measure func(settle, window time.Duration) float64
}

// startIdleProgram runs the program on a fresh database; measure returns its committed transactions per
// second over a window that starts once the program has settled.
func startIdleProgram(t *testing.T) *idleProgram {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, e2eDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) })
	name := "idle_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e2eDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	dbURL := u.String()

	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":    dbURL,
		"EMAIL_DIRECTORY": filepath.Join(dir, "email"),
		"MEDIA_DIRECTORY": filepath.Join(dir, "media"),
		"DEV_DATA_DIR":    filepath.Join(dir, "dev"),
		"SESSION_SECRET":  "idle-session-secret-0123456789abcdef",
		"PORT":            "0",
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	ready := make(chan net.Addr, 1)
	go func() {
		done <- run(runCtx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(a net.Addr) { ready <- a })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("program did not shut down")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("program stopped: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("program not ready")
	}
	commits := func() int64 {
		// The server publishes a backend's counts when it goes idle, at most every second, so force a
		// fresh snapshot and read it from a connection to another database.
		var n int64
		if _, err := admin.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		if err := admin.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return &idleProgram{t: t, dbURL: dbURL, measure: func(settle, window time.Duration) float64 {
		time.Sleep(settle) // leases taken, catch-up done, positions saved, polls backed off
		before, t0 := commits(), time.Now()
		time.Sleep(window)
		after, t1 := commits(), time.Now()
		return float64(after-before) / t1.Sub(t0).Seconds()
	}}
}
