package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// This file is the error vocabulary of the web applications and its mapping
// to HTTP. Handlers return errors; they never pick status codes or render
// error pages themselves. The one error handler (Server.handleError) turns the
// error into a status, a log line and a page.

// Error is an error with an HTTP status and a message that is safe to show to
// the user. Construct it with the helpers below.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is shown to the user. Empty means the page's default text.
	Message string
	// Err is the underlying cause, logged but never shown.
	Err error
}

func (e *Error) Error() string {
	text := e.Message
	if text == "" {
		text = http.StatusText(e.Status)
	}
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, text, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, text)
}

func (e *Error) Unwrap() error { return e.Err }

// NewError returns an error that renders the page for status with msg. Prefer
// the named helpers; this one is for the rare status they do not cover.
func NewError(status int, msg string) error { return &Error{Status: status, Message: msg} }

// BadRequest is for input the user can fix: a malformed id, a missing field.
// msg is shown to the user.
func BadRequest(msg string) error { return &Error{Status: http.StatusBadRequest, Message: msg} }

// Unauthorized is for requests that need a signed-in user (or failed to sign
// in, as on the log-in form). msg is shown; empty means "please log in".
func Unauthorized(msg string) error { return &Error{Status: http.StatusUnauthorized, Message: msg} }

// Forbidden is for a signed-in user who may not do this. msg may be empty.
func Forbidden(msg string) error { return &Error{Status: http.StatusForbidden, Message: msg} }

// NotFound is for unknown records (and is what unknown routes render). msg
// may be empty, e.g. NotFound("") or NotFound("No video with that id.").
func NotFound(msg string) error { return &Error{Status: http.StatusNotFound, Message: msg} }

// TooManyRequests is for throttled requests (e.g. repeated failed log-ins).
func TooManyRequests(msg string) error {
	return &Error{Status: http.StatusTooManyRequests, Message: msg}
}

// ErrNotFound is a sentinel for "no such record" that lower layers may return
// or wrap; it renders the 404 page. Packages that cannot import app (viewdata)
// define their own sentinel and main maps it with Server.MapError.
var ErrNotFound = errors.New("not found")

// errorMappings maps sentinel errors (matched with errors.Is) to statuses.
// It is per Server, not global, so tests can build servers independently.
type errorMappings struct {
	mu    sync.RWMutex
	rules []errorMapping
}

type errorMapping struct {
	target error            // matched with errors.Is; nil when match is set
	match  func(error) bool // MapErrorFunc's predicate
	status int
}

func (m errorMapping) matches(err error) bool {
	if m.match != nil {
		return m.match(err)
	}
	return errors.Is(err, m.target)
}

// MapError makes every handler error that matches target (errors.Is) render
// the page for status, e.g. srv.MapError(viewdata.ErrNotFound, 404). Rules are
// checked in the order they were added, after *app.Error and before the 500
// fallback. The message shown is the status's default text, never err's text,
// because lower layers write error texts for developers, not users.
func (s *Server) MapError(target error, status int) {
	if target == nil || status < 400 || status > 599 {
		panic(fmt.Sprintf("app: MapError(%v, %d): need a non-nil error and an error status", target, status))
	}
	s.errMap.mu.Lock()
	defer s.errMap.mu.Unlock()
	s.errMap.rules = append(s.errMap.rules, errorMapping{target: target, status: status})
}

// MapErrorFunc is MapError for a kind of error that no sentinel names: every handler error for which
// match reports true renders the page for status, e.g. srv.MapErrorFunc(messagestore.IsUnavailable,
// 503). An error of a request whose client has left is never matched: nobody sees the answer, and the
// log calls it what it is (499). A 503 answer carries Retry-After.
func (s *Server) MapErrorFunc(match func(error) bool, status int) {
	if match == nil || status < 400 || status > 599 {
		panic(fmt.Sprintf("app: MapErrorFunc(%d): need a function and an error status", status))
	}
	s.errMap.mu.Lock()
	defer s.errMap.mu.Unlock()
	s.errMap.rules = append(s.errMap.rules, errorMapping{match: match, status: status})
}

// statusClientClosedRequest is nginx's conventional status for "the client
// went away before we answered"; it is only ever logged, never sent.
const statusClientClosedRequest = 499

// classify decides the status and the user-facing message for err.
func (s *Server) classify(c echo.Context, err error) (status int, msg string) {
	var appErr *Error
	if errors.As(err, &appErr) {
		return appErr.Status, appErr.Message
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge, ""
	}
	var httpErr *echo.HTTPError
	if errors.As(err, &httpErr) {
		// Echo's own errors: routing (404/405), binding (400 with a message
		// about the input), unsupported media type and the like. Echo's
		// messages for 4xx describe the input, so they are safe to show;
		// anything 5xx is treated as ours.
		if httpErr.Code >= 500 {
			return httpErr.Code, ""
		}
		if httpErr.Code == http.StatusNotFound || httpErr.Code == http.StatusMethodNotAllowed {
			return httpErr.Code, ""
		}
		if m, ok := httpErr.Message.(string); ok {
			return httpErr.Code, m
		}
		return httpErr.Code, ""
	}
	clientLeft := c.Request().Context().Err() != nil
	s.errMap.mu.RLock()
	for _, rule := range s.errMap.rules {
		if (rule.match == nil || !clientLeft) && rule.matches(err) {
			s.errMap.mu.RUnlock()
			return rule.status, ""
		}
	}
	s.errMap.mu.RUnlock()
	if rs := requestOf(c); rs != nil && rs.deadline.passed() {
		// The shell gave up waiting on the handler's behalf (deadline.go): whatever it was waiting
		// for (the database, as a rule) did not answer in time. Not a bug, and worth a retry.
		return http.StatusServiceUnavailable, ""
	}
	if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || queryCancelled(err)) &&
		c.Request().Context().Err() != nil {
		return statusClientClosedRequest, ""
	}
	return http.StatusInternalServerError, ""
}

// queryCancelled reports whether err is PostgreSQL's "canceling statement" (SQLSTATE 57014): what a
// query returns when its context ends, because the pools have the server cancel the statement
// (messagestore.CancelStatementsOnServer) instead of closing the connection, which pgx reports as the
// context's error.
func queryCancelled(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "57014"
}

// panicError carries a recovered panic and its stack to the error handler,
// which logs both. The stack never reaches the response.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }
