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
// so the shell cancels the request's context when the deadline passes; classify then tells that
// apart from a client that left (499) and from a bug (500).
//
// Why not context.WithTimeout:
//   - some routes must move the deadline after the request has begun: a live stream lifts it (it is
//     meant to stay open), a video download too, and BodyLimit moves it by as long as it gives a large
//     upload to arrive;
//   - most requests never wait on anything (the home page answers from memory) and should not pay for
//     a timer, a cancellable context and a hook on the server's context, about 0.5 µs and four
//     allocations a request, which showed as 4–7 % fewer GET / per second. requestDeadline is itself
//     the request's context and arms all that only when something first waits on it (Done, or a
//     context or hook derived from it, as every pgx call makes).
//
// The deadline is not advertised through Deadline(): a context derived with a timeout of its own
// would otherwise keep it after the route lifted it.

// errRequestDeadline is the cause recorded when the deadline cancels the request's context.
var errRequestDeadline = errors.New("the request deadline passed before the handler answered")

// requestDeadline is a request's context with its deadline (see above). The embedded Context is the
// parent: values come from it, and its cancellation (the client left, the server stops) is passed on.
type requestDeadline struct {
	context.Context

	mu       sync.Mutex
	deadline time.Time
	lifted   bool
	done     chan struct{} // made by the first wait
	err      error         // set once, by the parent's cancellation, the deadline or the end of the request
	cause    error
	timer    *time.Timer  // runs while armed and not lifted
	unhook   func() bool  // stops watching the parent
	afters   []afterEntry // AfterFunc callbacks waiting for the cancellation
	nextID   int
}

type afterEntry struct {
	id int
	f  func()
}

// start makes rd the context of a request whose parent context is parent and whose deadline is d
// from now.
func (rd *requestDeadline) start(parent context.Context, d time.Duration) {
	rd.Context = parent
	rd.deadline = time.Now().Add(d)
}

// Done arms the deadline on first use.
func (rd *requestDeadline) Done() <-chan struct{} {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.armLocked()
	return rd.done
}

// armLocked makes the done channel, starts the timer and watches the parent, once.
func (rd *requestDeadline) armLocked() {
	if rd.done != nil {
		return
	}
	rd.done = make(chan struct{})
	if rd.err != nil {
		close(rd.done)
		return
	}
	if !rd.lifted {
		rd.timer = time.AfterFunc(time.Until(rd.deadline), func() { rd.cancel(context.Canceled, errRequestDeadline) })
	}
	parent := rd.Context
	rd.unhook = context.AfterFunc(parent, func() { rd.cancel(parent.Err(), context.Cause(parent)) })
}

// Err is the parent's error once it is done, or Canceled once the deadline or the request ended.
func (rd *requestDeadline) Err() error {
	rd.mu.Lock()
	err := rd.err
	rd.mu.Unlock()
	if err != nil {
		return err
	}
	if perr := rd.Context.Err(); perr != nil {
		rd.cancel(perr, context.Cause(rd.Context))
		return rd.Err()
	}
	return nil
}

// AfterFunc is what context.AfterFunc and the contexts derived from this one use to hear of the
// cancellation without a goroutine each (the context package looks for this method).
func (rd *requestDeadline) AfterFunc(f func()) (stop func() bool) {
	rd.mu.Lock()
	rd.armLocked()
	if rd.err != nil {
		rd.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	id := rd.nextID
	rd.nextID++
	rd.afters = append(rd.afters, afterEntry{id, f})
	rd.mu.Unlock()
	return func() bool {
		rd.mu.Lock()
		defer rd.mu.Unlock()
		for i, a := range rd.afters {
			if a.id == id {
				rd.afters = append(rd.afters[:i], rd.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// cancel ends the context with err, recording cause, unless it has ended already.
func (rd *requestDeadline) cancel(err, cause error) {
	rd.mu.Lock()
	if rd.err != nil {
		rd.mu.Unlock()
		return
	}
	rd.err, rd.cause = err, cause
	if rd.done != nil {
		close(rd.done)
	}
	if rd.timer != nil {
		rd.timer.Stop()
	}
	afters, unhook := rd.afters, rd.unhook
	rd.afters, rd.unhook = nil, nil
	rd.mu.Unlock()
	if unhook != nil {
		unhook()
	}
	for _, a := range afters {
		go a.f()
	}
}

// release ends the context when the request is done, as net/http does with its own.
func (rd *requestDeadline) release() {
	rd.lift()
	rd.cancel(context.Canceled, context.Canceled)
}

// lift removes the deadline, unless it has passed already.
func (rd *requestDeadline) lift() {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.lifted = true
	if rd.timer != nil {
		rd.timer.Stop()
	}
}

// extend moves a deadline that has not passed to d from now.
func (rd *requestDeadline) extend(d time.Duration) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.lifted || rd.err != nil {
		return
	}
	rd.deadline = time.Now().Add(d)
	if rd.timer != nil {
		rd.timer.Reset(d)
	}
}

// passed reports whether the deadline cancelled the request's context (and not the client leaving
// before it).
func (rd *requestDeadline) passed() bool {
	if rd == nil {
		return false
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.cause == errRequestDeadline
}

// LiftRequestDeadline removes the request deadline of c's request, for a handler that is meant to
// run for as long as its client stays (a live stream does it itself, a video download too). Its
// database calls then need deadlines of their own.
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
//
// Nothing cancels that context, so the page must not wait on the database with it: the signed-in
// user's details (Deps.Identify) would be looked up in the database that just did not answer in time,
// and a stalled one would hold the 503 back for as long as it stalls, whether or not the client is
// still there. The page shows the user as it does when that look-up fails (by id, no admin rights).
func afterDeadline(c echo.Context) {
	if st := sessionOf(c); signedIn(st) && !st.userDone {
		st.userDone, st.user = true, &User{ID: st.data.UID}
	}
	req := c.Request()
	c.SetRequest(req.WithContext(context.WithoutCancel(req.Context())))
}
