// Command videotutorials is the Video Tutorials system of the book Practical Microservices as one
// executable: the web applications, the components and the aggregators, on a PostgreSQL message store.
//
// main.go is the composition root: configuration → database (the private dev PostgreSQL or
// DATABASE_URL) → migrations → message store → components, aggregators and web applications → run
// until a signal. run() is a thin, testable core: an end-to-end test starts the whole program on port 0.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

func main() {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		os.Exit(runTool(os.Args[1], os.Args[2:]))
	}
	cfg, err := parseConfig(os.Args[1:], environ, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "configuration error:\n%v\n", err)
		os.Exit(2)
	}
	tuneGC(cfg)
	out := newLogOutput(os.Stderr, cfg.LogFlushInterval)
	defer out.Flush()
	log := newLogger(cfg, out)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = run(ctx, cfg, log, func(addr net.Addr) {
		if !cfg.Runs(RoleWeb) {
			// A worker process has no address to open.
			log.Info("Video Tutorials is ready", "roles", strings.Join(cfg.Roles, ","))
			return
		}
		url := fmt.Sprintf("http://localhost:%d/", addr.(*net.TCPAddr).Port)
		log.Info("Video Tutorials is ready", "url", url, "roles", strings.Join(cfg.Roles, ","))
		_ = out.Flush() // the log's lines so far come before the banner
		fmt.Fprintf(os.Stderr, "\n  Video Tutorials is running: open %s\n  (Ctrl-C stops it)\n\n", url)
	})
	if err != nil {
		log.Error("stopped with an error", "err", err) // an error: written at once, before os.Exit
		os.Exit(1)
	}
}

func newLogger(cfg Config, out *logOutput) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	return slog.New(levelFlush{h, out})
}

// databases are the pools the program runs on, and how to release them.
type databases struct {
	views    *pgxpool.Pool // view data (written by aggregators)
	readonly *pgxpool.Pool // view data for the applications: read-only transactions
	store    *pgxpool.Pool // the message store (the same database unless MESSAGE_STORE_URL is set)
	devdb    *devdb.Server
	secrets  string // where dev secrets are kept; empty when not on the dev database
}

func (d *databases) close(ctx context.Context) {
	if d.store != nil && d.store != d.views {
		d.store.Close()
	}
	if d.readonly != nil {
		d.readonly.Close()
	}
	if d.views != nil {
		d.views.Close()
	}
	if d.devdb != nil {
		_ = d.devdb.Stop(ctx)
	}
}

// openDatabases starts the private PostgreSQL when needed, connects and migrates.
func openDatabases(ctx context.Context, cfg Config, log *slog.Logger) (*databases, error) {
	d := &databases{}
	viewURL, storeURL := cfg.DatabaseURL, cfg.MessageStoreURL
	if cfg.UsesDevDB() {
		srv, err := devdb.Start(ctx, devdb.Options{Dir: filepath.Join(cfg.DevDataDir, "postgres"), Logger: log})
		if err != nil {
			return nil, err
		}
		d.devdb, d.secrets = srv, cfg.DevDataDir
		viewURL = srv.URL
	}
	if storeURL == "" {
		storeURL = viewURL
	}
	var err error
	if d.views, err = newPool(ctx, viewURL, cfg.DBMaxConns, log); err != nil {
		d.close(ctx)
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	d.store = d.views
	if storeURL != viewURL {
		if d.store, err = newPool(ctx, storeURL, cfg.DBMaxConns, log); err != nil {
			d.close(ctx)
			return nil, fmt.Errorf("connect to MESSAGE_STORE_URL: %w", err)
		}
	}
	if d.readonly, err = newReadOnlyPool(ctx, viewURL, cfg.DBMaxConns, log); err != nil {
		d.close(ctx)
		return nil, err
	}
	if err := migrations.MessageStore.Up(ctx, d.store, log); err != nil {
		d.close(ctx)
		return nil, err
	}
	if err := migrations.ViewData.Up(ctx, d.views, log); err != nil {
		d.close(ctx)
		return nil, err
	}
	return d, nil
}

func newPool(ctx context.Context, url string, maxConns int, log *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(maxConns)
	pc.HealthCheckPeriod = 5 * time.Second
	preferGenericPlans(pc)
	return connect(ctx, pc, log)
}

// connect opens the pool and waits for the database rather than fail at once (in compose the app may
// start first), for up to 30 s, saying why while it waits. A refusal that waiting cannot cure (a wrong
// password or database name, a parameter a connection pooler rejects) ends the wait at once.
func connect(ctx context.Context, pc *pgxpool.Config, log *slog.Logger) (*pgxpool.Pool, error) {
	messagestore.CancelStatementsOnServer(pc)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var told time.Time
	for {
		err = pool.Ping(ctx)
		if err == nil || !transientConnectError(err) || time.Since(start) > 30*time.Second {
			break
		}
		if time.Since(told) >= 5*time.Second {
			log.Warn("waiting for the database", "host", pc.ConnConfig.Host, "port", pc.ConnConfig.Port,
				"database", pc.ConnConfig.Database, "err", err)
			told = time.Now()
		}
		select {
		case <-ctx.Done():
			pool.Close()
			return nil, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// transientConnectError reports whether a failed connection attempt may succeed later: anything but
// the server (or a pooler in front of it) refusing this client for good.
func transientConnectError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true // refused, reset, timed out, DNS: the database may not be up yet
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "28"), // invalid authorization: wrong user or password
		pgErr.Code == "3D000", // no such database
		pgErr.Code == "08P01": // protocol violation: e.g. a startup parameter a pooler rejects
		return false
	}
	return true // e.g. 57P03, the database is starting up
}

// sessionSettings has every new connection of the pool SET each name to its value, unless the URL
// sets that parameter itself. The settings are sent after connecting, not as startup parameters,
// because connection poolers such as PgBouncer refuse startup parameters they do not know.
func sessionSettings(pc *pgxpool.Config, nameValues ...string) {
	var set []string
	for i := 0; i+1 < len(nameValues); i += 2 {
		name, value := nameValues[i], nameValues[i+1]
		if _, inURL := pc.ConnConfig.RuntimeParams[name]; !inURL {
			set = append(set, "SET "+name+" = "+value)
		}
	}
	if len(set) == 0 {
		return
	}
	sql := strings.Join(set, "; ")
	next := pc.AfterConnect
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		if next != nil {
			return next(ctx, c)
		}
		return nil
	}
}

// preferGenericPlans makes the pool's sessions plan each prepared statement once, unless the URL sets
// plan_cache_mode itself. By default PostgreSQL plans a prepared statement afresh on every call while
// its generic plan looks costlier than the custom ones, and for the statements the message store and
// the aggregators run all the time it does: the inlined category read is re-inlined and re-planned,
// and a range condition past the column's histogram makes the planner probe the index for its real
// end, on every read. Under the viewing load that was about a sixth of PostgreSQL's CPU
// (docs/BENCHMARKS.md, "Planning, position saves, log output"). Every statement these pools run is written for its generic plan:
// each is a key lookup, an ordered range scan with a LIMIT, or a set-based write from arrays, and the
// plans that matter are pinned by tests (TestGetCategoryMessagesGenericPlanOnAnalyzedStore and the
// other genericPlan tests in migrations). The read-only pool of the web apps keeps the default: its
// admin searches are the kind of query a custom plan is for, and it runs few of them.
func preferGenericPlans(pc *pgxpool.Config) {
	sessionSettings(pc, "plan_cache_mode", "force_generic_plan")
}

// sessionSecret returns SESSION_SECRET, or for the dev database one generated once and kept in
// DEV_DATA_DIR (so sessions survive restarts), or else a random one for this process only.
func sessionSecret(cfg Config, d *databases, log *slog.Logger) ([]byte, error) {
	if cfg.SessionSecret != "" {
		return []byte(cfg.SessionSecret), nil
	}
	if d.secrets != "" {
		path := filepath.Join(d.secrets, "session-secret")
		if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
			return b, nil
		}
		buf := make([]byte, 32)
		_, _ = rand.Read(buf)
		secret := []byte(hex.EncodeToString(buf))
		if err := os.WriteFile(path, secret, 0o600); err != nil {
			return nil, fmt.Errorf("keep the dev session secret: %w", err)
		}
		return secret, nil
	}
	log.Warn("SESSION_SECRET is not set: sessions end when this process stops and are not shared between processes")
	buf := make([]byte, 32)
	_, _ = rand.Read(buf)
	return []byte(hex.EncodeToString(buf)), nil
}

// run runs the program until ctx is done, then shuts down in order: stop accepting requests and finish
// those in flight, stop the subscriptions (which save their positions), close the pools, and stop the
// private PostgreSQL last. ready is called with the listening address once everything runs.
func run(ctx context.Context, cfg Config, log *slog.Logger, ready func(net.Addr)) error {
	d, err := openDatabases(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		d.close(c)
	}()

	metrics := newMetrics()
	store := messagestore.New(d.store, messagestore.Options{Logger: log, Observer: metrics, NoCombining: !cfg.CombineWrites})
	leases := messagestore.NewLeases(d.store, log, cfg.LeaseInterval)
	sys, err := assemble(ctx, cfg, log, d, store, metrics)
	if err != nil {
		return err
	}
	var subs []*messagestore.Subscription
	for _, sc := range sys.subscriptions {
		sub, err := store.Subscribe(sc, leases)
		if err != nil {
			return err
		}
		subs = append(subs, sub)
	}
	supervisor := messagestore.NewSupervisor(store, leases, subs...)
	sys.handSupervisor(supervisor) // admin portal: its subscriber health page shows this supervisor
	metrics.watch(supervisor, store, d)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return store.Run(gctx) })
	g.Go(func() error { return supervisor.Run(gctx) })
	for _, task := range sys.background {
		g.Go(func() error { return task(gctx) })
	}
	if cfg.Runs(RoleWeb) {
		web, err := newWeb(cfg, log, d, supervisor, metrics, sys)
		if err != nil {
			return err
		}
		g.Go(func() error {
			return web.Run(gctx, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), ready)
		})
	} else {
		rd := readiness{d: d, supervisor: supervisor, migrated: new(atomic.Bool)}
		g.Go(func() error {
			return serveOps(gctx, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), rd, metrics, log, ready)
		})
	}
	return g.Wait()
}

// tuneGC applies GOGC and GOMEMLIMIT. The runtime reads both variables itself; setting them again
// here makes the flags work and gives the program its own defaults: a heap that may grow by 400 %
// of the live heap between collections (a fraction of the collections the runtime's default of 100
// needs, 10–20 % less CPU per request under load, docs/BENCHMARKS.md), with a soft limit of 32 MiB
// that keeps the process near 50 MB resident under load and catch-up alike.
func tuneGC(cfg Config) {
	debug.SetGCPercent(cfg.GCPercent)
	debug.SetMemoryLimit(cfg.MemoryLimit)
}
