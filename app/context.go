package app

import (
	"context"
	"log/slog"
	"net/url"
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

// Request-scoped values live in the request's context.Context (not only in
// echo.Context) so that code below the handlers, which takes a plain ctx,
// can copy them into message metadata.

type ctxKey int

const (
	requestStateKey ctxKey = iota
	userIDKey
)

// requestState is what the middleware keeps about a request, in the request's
// context: one value allocated once per request (observe), instead of a value
// per middleware in echo.Context's map.
type requestState struct {
	srv     *Server
	traceID string
	// log is the request's logger (the server's with the traceId
	// attribute), made on first use: most requests only write their request
	// log line, which carries the trace id without it.
	log        atomic.Pointer[slog.Logger]
	body       *limitedBody
	session    session
	hasSession bool // loadSession ran
	// deadline is the request's context when requests have a deadline (deadline.go): &dl, or nil.
	deadline *requestDeadline
	dl       requestDeadline
}

func requestOf(c echo.Context) *requestState {
	rs, _ := c.Request().Context().Value(requestStateKey).(*requestState)
	return rs
}

// HeaderTraceID is the response header carrying the request's trace id, so a
// user or an end-to-end test can quote it.
const HeaderTraceID = "X-Trace-Id"

// TraceID returns the request's trace id: a fresh UUID per request, to be
// copied into the metadata (traceId) of every message the request writes.
func TraceID(c echo.Context) string { return TraceIDFrom(c.Request().Context()) }

// TraceIDFrom returns the trace id stored in ctx by the server, or "".
func TraceIDFrom(ctx context.Context) string {
	if rs, ok := ctx.Value(requestStateKey).(*requestState); ok {
		return rs.traceID
	}
	return ""
}

// UserIDFrom returns the acting (signed-in) user's id stored in ctx by the
// session middleware, or "" for anonymous requests. It is the userId of
// message metadata.
func UserIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(userIDKey).(string)
	return id
}

func withRequestState(ctx context.Context, rs *requestState) context.Context {
	return context.WithValue(ctx, requestStateKey, rs)
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
	rs := requestOf(c)
	if rs == nil {
		return slog.Default()
	}
	if l := rs.log.Load(); l != nil {
		return l
	}
	l := rs.srv.log.With("traceId", rs.traceID)
	if !rs.log.CompareAndSwap(nil, l) {
		l = rs.log.Load()
	}
	return l
}

// PathParam returns the path parameter name decoded exactly once. Echo matches routes on the
// request's escaped path only when it differs from the default escaping (an escaped “/” in a name),
// and its parameters are then still escaped; otherwise they are already decoded, and decoding them
// again would turn a name holding “%41” into another name. ok is false when the parameter cannot be
// decoded.
func PathParam(c echo.Context, name string) (value string, ok bool) {
	value = c.Param(name)
	if c.Request().URL.RawPath == "" {
		return value, true
	}
	value, err := url.PathUnescape(value)
	return value, err == nil
}
