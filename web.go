package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/live"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// application is a web application mounted on the shell.
type application = app.Application

// newWeb builds the web server: the shell, the operational endpoints and every application.
func newWeb(cfg Config, log *slog.Logger, d *databases, sup *messagestore.Supervisor, m *metrics, sys *system) (*app.Server, error) {
	secret, err := sessionSecret(cfg, d, log)
	if err != nil {
		return nil, err
	}
	srv := app.New(app.Deps{
		Logger:        log,
		SessionSecret: secret,
		SecureCookies: cfg.SecureCookies,
		Identify:      sys.identify,
		SessionRevoked: func(ctx context.Context, ref string) (bool, error) {
			return viewdata.SessionLoggedOut(ctx, d.readonly, ref)
		},
		Middleware:  []echo.MiddlewareFunc{m.middleware},
		Timeouts:    app.Timeouts{Shutdown: cfg.ShutdownTimeout, Request: requestDeadline(cfg.RequestTimeout)},
		IPExtractor: clientIP(cfg.TrustedProxies),
	})
	// The database out of reach (down, restarting, out of connections) is worth trying again in a
	// moment: 503 with Retry-After, not the 500 of a bug.
	srv.MapErrorFunc(messagestore.IsUnavailable, http.StatusServiceUnavailable)
	e := srv.Echo()
	e.GET("/healthz", echo.WrapHandler(http.HandlerFunc(healthz)))
	e.GET("/readyz", echo.WrapHandler(readiness{d: d, supervisor: sup, migrated: new(atomic.Bool)}))
	e.GET("/metrics", echo.WrapHandler(m.handler()))
	srv.Mount(sys.apps...)
	return srv, nil
}

// clientIP decides a request's client address. Without trusted proxies it is the TCP peer: believing
// X-Forwarded-For from anyone would let a client pick its address and slip past the log-in throttle.
// Behind the configured proxies it is the address the nearest of them saw (X-Forwarded-For read from
// the right, past the trusted hops); a request that did not come through one keeps its TCP peer.
func clientIP(proxies []*net.IPNet) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// newReadOnlyPool returns a pool whose transactions are read-only: the applications read view data
// through it, so a handler cannot write view data even by mistake.
func newReadOnlyPool(ctx context.Context, url string, maxConns int, log *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(maxConns)
	delete(pc.ConnConfig.RuntimeParams, "default_transaction_read_only") // never off, whatever the URL says
	sessionSettings(pc, "default_transaction_read_only", "on")
	return connect(ctx, pc, log)
}

// liveChannel carries live-page events from processes that run aggregators but no web server to the
// processes that serve the pages (ROLES split across processes).
const liveChannel = "videotutorials_live"

type liveEvent struct {
	Topic string `json:"t"`
	Event string `json:"e"`
	Data  string `json:"d"`
}

// liveBridge publishes live events to other processes with NOTIFY. Publishing never blocks an
// aggregator: events are queued and sent by one goroutine; if the queue is full they are dropped
// (pages catch up at their next event or reload).
type liveBridge struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	q    chan liveEvent
}

func newLiveBridge(pool *pgxpool.Pool, log *slog.Logger) *liveBridge {
	return &liveBridge{pool: pool, log: log, q: make(chan liveEvent, 1024)}
}

func (b *liveBridge) Publish(topic, event, data string) {
	select {
	case b.q <- liveEvent{topic, event, data}:
	default:
	}
}

func (b *liveBridge) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-b.q:
			payload, _ := json.Marshal(ev)
			if len(payload) > 7900 {
				continue // NOTIFY payloads are limited to 8000 bytes
			}
			if _, err := b.pool.Exec(ctx, "SELECT pg_notify($1, $2)", liveChannel, string(payload)); err != nil && ctx.Err() == nil {
				b.log.Debug("live event not forwarded", "err", err)
			}
		}
	}
}

// listenLive forwards live events published by other processes into the local hub.
func listenLive(ctx context.Context, pool *pgxpool.Pool, hub *live.Hub, log *slog.Logger) error {
	for ctx.Err() == nil {
		err := func() error {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return err
			}
			conn := c.Hijack()
			defer conn.Close(context.Background())
			if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{liveChannel}.Sanitize()); err != nil {
				return err
			}
			// Shutdown closes the socket under the wait rather than cancel it (see Store.listen).
			stop := context.AfterFunc(ctx, func() { _ = conn.PgConn().Conn().Close() })
			defer stop()
			for {
				n, err := conn.WaitForNotification(context.WithoutCancel(ctx))
				if err != nil {
					return err
				}
				var ev liveEvent
				if json.Unmarshal([]byte(n.Payload), &ev) == nil {
					hub.Publish(ev.Topic, ev.Event, ev.Data)
				}
			}
		}()
		if ctx.Err() == nil {
			log.Warn("live event listener lost its connection; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// requestDeadline is REQUEST_TIMEOUT as the shell takes it: its 0 ("none") is the shell's negative.
func requestDeadline(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
