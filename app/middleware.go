package app

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// observe gives the request its trace id and logger, renders any error the
// inner layers return (so that outer middleware and the log line see the
// final status) and writes one structured log line per request.
func (s *Server) observe(c echo.Context, next echo.HandlerFunc) error {
	start := time.Now()
	if c.Get(headKey) != nil {
		c.Request().Method = http.MethodHead // routed as GET (routeHeadAsGet); handled and logged as HEAD
	}
	if _, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok {
		c.Response().Before(allowHead(c)) // the router answers it (405, OPTIONS); its Allow lacks HEAD
	}
	rs := &requestState{srv: s, traceID: newTraceID()}
	req := c.Request()
	ctx := withRequestState(req.Context(), rs)
	if d := s.timeouts.Request; d > 0 {
		rs.dl.start(ctx, d)
		rs.deadline = &rs.dl
		ctx = rs.deadline
		defer rs.deadline.release()
	}
	c.SetRequest(req.WithContext(ctx))
	c.Response().Header()[HeaderTraceID] = []string{rs.traceID}

	err := s.recoverPanics(c, next)
	if err != nil {
		if rs.deadline.passed() {
			afterDeadline(c) // the error page renders on a context that is not cancelled
		}
		c.Error(err) // s.handleError: renders the page, logs 5xx details
	}

	res := c.Response()
	status := res.Status
	if err != nil && !res.Committed {
		// The client left before anything was written.
		status = statusClientClosedRequest
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400 && status != http.StatusNotFound:
		level = slog.LevelWarn
	}
	ctx = c.Request().Context()
	if !s.log.Enabled(ctx, level) {
		return nil
	}
	// The same line as Logger(c).LogAttrs would write (traceId first),
	// without making the request's logger.
	attrs := [10]slog.Attr{
		slog.String("traceId", rs.traceID),
		slog.String("method", req.Method),
		slog.String("route", c.Path()),
		slog.String("path", req.URL.Path),
		slog.Int("status", status),
		slog.Duration("latency", time.Since(start)),
		slog.Int64("bytes", res.Size),
		slog.String("ip", c.RealIP()),
	}
	n := 8
	if uid := UserIDFrom(ctx); uid != "" {
		attrs[n] = slog.String("userId", uid)
		n++
	}
	if err != nil {
		attrs[n] = slog.String("error", err.Error())
		n++
	}
	s.log.LogAttrs(ctx, level, "request", attrs[:n]...)
	return nil
}

// newTraceID returns a time-ordered (version 7) UUID in its canonical form: every message a request
// causes carries it, and the admin-streams aggregator indexes it (admin_message_index_trace), where
// random ids would touch a random leaf page per message on a large store. Its 74 random bits keep it
// unguessable; pages that show a trace's outcome still check who asks.
func newTraceID() string { return uuid.Must(uuid.NewV7()).String() }

// recoverPanics turns a panic in a handler into an error carrying the stack,
// which the error handler logs and renders as the generic 500 page.
func (s *Server) recoverPanics(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			// net/http's deliberate "abort this response"; let it do so.
			panic(r)
		}
		err = &panicError{value: r, stack: debug.Stack()}
	}()
	return s.securityHeaders(c, next)
}

// ContentSecurityPolicy allows only our own origin for everything and forbids
// inline scripts and styles, framing, plugins and foreign form targets. Media
// may also come from blob: URLs (previews of a file chosen for upload).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; " +
	"form-action 'self'; frame-ancestors 'none'"

// The security headers' values. Every response shares these slices:
// net/http only reads them, and Header.Set and Header.Add replace or copy a
// slice rather than write into it.
var (
	cspValue               = []string{ContentSecurityPolicy}
	nosniffValue           = []string{"nosniff"}
	frameOptionsValue      = []string{"DENY"}
	referrerPolicyValue    = []string{"strict-origin-when-cross-origin"}
	openerPolicyValue      = []string{"same-origin"}
	permissionsPolicyValue = []string{"camera=(), microphone=(), geolocation=(), payment=()"}
	hstsValue              = []string{"max-age=31536000"}
)

// securityHeaders sets the headers every response carries, error pages and
// static files included.
func (s *Server) securityHeaders(c echo.Context, next echo.HandlerFunc) error {
	h := c.Response().Header()
	h["Content-Security-Policy"] = cspValue
	h["X-Content-Type-Options"] = nosniffValue
	h["X-Frame-Options"] = frameOptionsValue
	h["Referrer-Policy"] = referrerPolicyValue
	h["Cross-Origin-Opener-Policy"] = openerPolicyValue
	h["Permissions-Policy"] = permissionsPolicyValue
	if c.Request().TLS != nil {
		h["Strict-Transport-Security"] = hstsValue
	}
	return s.limitBody(c, next)
}

// limitedBody caps how much of the request body handlers can read. Unlike
// http.MaxBytesReader its limit can be raised after it is installed: the
// default applies to every route, and an upload route raises it with
// BodyLimit, which runs later (route middleware runs after global middleware).
type limitedBody struct {
	src      io.ReadCloser
	limit    int64
	read     int64
	declared int64 // Content-Length, -1 if unknown
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	// An honest client announcing too much is refused before we read a byte.
	if b.declared > b.limit || b.read > b.limit {
		b.exceeded = true
		return 0, &http.MaxBytesError{Limit: b.limit}
	}
	// Read one byte past the limit to tell "exactly at the limit" from "over".
	if remaining := b.limit - b.read + 1; int64(len(p)) > remaining {
		p = p[:remaining]
	}
	n, err := b.src.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		b.exceeded = true
		return n - int(b.read-b.limit), &http.MaxBytesError{Limit: b.limit}
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.src.Close() }

// limitBody installs the default body limit. Reading past it yields
// *http.MaxBytesError, which the error handler answers with 413. If a handler
// hit the limit but swallowed the error (c.FormValue ignores parse errors;
// c.FormParams and c.Bind report them) and has not answered yet, the request
// is still answered with 413 rather than a confusing "field missing".
func (s *Server) limitBody(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()
	if !cleanURL(c) {
		// Refused before anything reads the body, but with the visitor's session, as every other
		// error page: without it a signed-in visitor's 400 page offered to log in, as if they
		// had been logged out.
		return s.loadSession(c, func(echo.Context) error {
			return BadRequest("That address contains a character that is not allowed.")
		})
	}
	if req.Body == nil || req.Body == http.NoBody {
		return s.loadSession(c, next)
	}
	body := &limitedBody{src: req.Body, limit: s.bodyLimit, declared: req.ContentLength}
	req.Body = body
	if rs := requestOf(c); rs != nil {
		rs.body = body
	}
	err := s.loadSession(c, next)
	if body.exceeded && !c.Response().Committed {
		var tooLarge *http.MaxBytesError
		if err == nil || !errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Err: err}
		}
	}
	return err
}

// BodyLimit is route middleware that raises (or lowers) the body limit to
// limit bytes and gives the request readTimeout more to arrive, for uploads:
//
//	portal.POST("/publish-video", h.publish, app.BodyLimit(2<<30, 30*time.Minute))
//
// It works for multipart and header-token requests. URL-encoded forms are
// parsed by the CSRF check before route middleware runs, so they always get
// the default limit (a text form never needs more).
func BodyLimit(limit int64, readTimeout time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if rs := requestOf(c); rs != nil && rs.body != nil {
				rs.body.limit = limit
			}
			if readTimeout > 0 {
				// The server's write deadline was set when the request
				// arrived; the answer to a long upload comes later, so it
				// moves too. ErrNotSupported (httptest recorders) just means
				// there is no deadline to extend. So does the request
				// deadline: the handler's work starts once the body is in.
				rc := http.NewResponseController(c.Response())
				_ = rc.SetReadDeadline(time.Now().Add(readTimeout))
				_ = rc.SetWriteDeadline(time.Now().Add(readTimeout + time.Minute))
				if rs := requestOf(c); rs != nil {
					rs.srv.extendRequestDeadline(c, readTimeout)
				}
			}
			return next(c)
		}
	}
}

// cleanURL reports whether the request's path and query hold only text PostgreSQL can store: valid
// UTF-8 without NUL bytes. Handlers pass path parameters and filters on to queries, where anything
// else is a database error (a 500 for what is bad input); checking once here turns it into a 400
// for every route.
func cleanURL(c echo.Context) bool {
	req := c.Request()
	if !CleanText(req.URL.Path) {
		return false
	}
	if req.URL.RawQuery == "" {
		return true
	}
	for k, vs := range c.QueryParams() {
		if !CleanText(k) {
			return false
		}
		for _, v := range vs {
			if !CleanText(v) {
				return false
			}
		}
	}
	return true
}

// CleanText reports whether s is valid UTF-8 without NUL bytes: text a PostgreSQL text column can
// hold.
func CleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
