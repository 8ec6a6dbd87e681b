package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// The request deadline: how long a handler may wait for what it needs — the database, above all —
// before the shell gives up on its behalf and answers 503 with Retry-After.
//
// Without it a request waits for as long as its client does. When PostgreSQL stops answering (a
// stalled server, a network partition, a lock held by a migration) every request that touches it
// hangs, holds its goroutine, its pooled connection wait and its client, and the user sees a page
// that never loads instead of "try again in a moment". pgx gives up when the context is cancelled,
// so the shell cancels the request's context when the deadline passes, with errRequestDeadline as
// its cause; classify then tells that apart from a client that left (499) and from a bug (500).
//
// The deadline is a timer that cancels the context rather than context.WithTimeout, because some
// routes must move it after the request has begun: a live stream lifts it (it is meant to stay
// open), and BodyLimit moves it by as long as it gives a large upload to arrive.

// errRequestDeadline is the cause of a request context cancelled by its deadline.
var errRequestDeadline = errors.New("the request deadline passed before the handler answered")

// requestDeadline is one request's deadline.
type requestDeadline struct {
	ctx    context.Context // the request's context, which the deadline cancels
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	timer  *time.Timer // nil once lifted
}

// startDeadline returns ctx with the request deadline d: a context that is cancelled after d unless
// the deadline is lifted first. release ends it when the request is done.
func (rs *requestState) startDeadline(ctx context.Context, d time.Duration) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	rd := &requestDeadline{ctx: ctx, cancel: cancel}
	rd.timer = time.AfterFunc(d, rd.fire)
	rs.deadline = rd
	return ctx
}

// release stops the deadline's timer and frees its context, once the request is done.
func (rd *requestDeadline) release() {
	rd.lift()
	rd.cancel(nil)
}

func (rd *requestDeadline) fire() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.timer == nil {
		return // lifted while the timer was firing
	}
	rd.cancel(errRequestDeadline) // no effect if the client has left already: that stays the cause
}

// lift removes the deadline, unless it has passed already.
func (rd *requestDeadline) lift() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.timer != nil {
		rd.timer.Stop()
		rd.timer = nil
	}
}

// extend moves a deadline that has not passed to d from now.
func (rd *requestDeadline) extend(d time.Duration) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.timer != nil && rd.ctx.Err() == nil {
		rd.timer.Reset(d)
	}
}

// passed reports whether the deadline cancelled the request's context (and not the client leaving
// before it).
func (rd *requestDeadline) passed() bool {
	return rd != nil && context.Cause(rd.ctx) == errRequestDeadline
}

// LiftRequestDeadline removes the request deadline of c's request, for a handler that is meant to
// run for as long as its client stays (a live stream does it itself). Its database calls then need
// deadlines of their own.
func LiftRequestDeadline(c echo.Context) {
	if rs := requestOf(c); rs != nil && rs.deadline != nil {
		rs.deadline.lift()
	}
}

// extendRequestDeadline moves the request deadline to the request timeout plus extra from now.
func (s *Server) extendRequestDeadline(c echo.Context, extra time.Duration) {
	if rs := requestOf(c); rs != nil && rs.deadline != nil {
		rs.deadline.extend(s.timeouts.Request + extra)
	}
}

// afterDeadline prepares the rendering of a request whose deadline passed: its context is cancelled,
// and the error page (whose templates stop on a cancelled context) needs one that is not. The values
// (request state, acting user) stay.
func afterDeadline(c echo.Context) {
	req := c.Request()
	c.SetRequest(req.WithContext(context.WithoutCancel(req.Context())))
}
