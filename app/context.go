package app

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"
)

// Request-scoped values live in the request's context.Context (not only in
// echo.Context) so that code below the handlers, which takes a plain ctx,
// can copy them into message metadata.

type ctxKey int

const (
	traceIDKey ctxKey = iota
	userIDKey
)

// Keys for values stored in echo.Context by the middleware.
const (
	loggerKey   = "app.logger"
	sessionKey  = "app.session"
	bodyKey     = "app.body"
	drainingKey = "app.draining"
	userKey     = "app.user"
)

// HeaderTraceID is the response header carrying the request's trace id, so a
// user or an end-to-end test can quote it.
const HeaderTraceID = "X-Trace-Id"

// TraceID returns the request's trace id: a fresh UUID per request, to be
// copied into the metadata (traceId) of every message the request writes.
func TraceID(c echo.Context) string { return TraceIDFrom(c.Request().Context()) }

// TraceIDFrom returns the trace id stored in ctx by the server, or "".
func TraceIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(traceIDKey).(string)
	return id
}

// UserIDFrom returns the acting (signed-in) user's id stored in ctx by the
// session middleware, or "" for anonymous requests. It is the userId of
// message metadata.
func UserIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(userIDKey).(string)
	return id
}

func withTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceIDKey, id)
}

func withUserID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, userIDKey, id)
}

// setUserID records the acting user in the request context (the session
// middleware on every request, SignIn/SignOut when they change it).
func setUserID(c echo.Context, id string) {
	req := c.Request()
	if UserIDFrom(req.Context()) == id {
		return
	}
	c.SetRequest(req.WithContext(withUserID(req.Context(), id)))
}

// Logger returns the request's logger: the server's logger with the traceId
// attribute, so handlers' log lines can be joined with the request log.
func Logger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
