package authenticate

import (
	"container/list"
	"sync"
	"time"
)

// Throttle settings; zero fields of Deps.Throttle get these defaults.
const (
	DefaultMaxFailuresPerEmail = 5
	DefaultMaxFailuresPerIP    = 20
	DefaultFailureWindow       = 15 * time.Minute
	DefaultMaxTracked          = 10000
)

// Throttle tunes the limits on failed log-ins.
type Throttle struct {
	// MaxFailuresPerEmail and MaxFailuresPerIP are the failed attempts allowed per window.
	MaxFailuresPerEmail int
	MaxFailuresPerIP    int
	// MaxFreshIPFailuresPerEmail: once an email is at MaxFailuresPerEmail, an address with no failed
	// attempt in its own window (a fresh one: its owner at home, say) may still try, until this many
	// such attempts of the email's window have failed; default 4 × MaxFailuresPerEmail. Without it
	// anybody who knows an email could keep its owner out with five wrong passwords every quarter of
	// an hour; with it, that takes MaxFailuresPerEmail + MaxFreshIPFailuresPerEmail addresses, and a
	// guesser spread over many addresses gets no more guesses than that either.
	MaxFreshIPFailuresPerEmail int
	// Window is how long failures count, from the first failure of a window.
	Window time.Duration
	// MaxTracked bounds the number of emails (and of IPs) remembered; the oldest are forgotten first.
	MaxTracked int
}

func (t Throttle) withDefaults() Throttle {
	if t.MaxFailuresPerEmail <= 0 {
		t.MaxFailuresPerEmail = DefaultMaxFailuresPerEmail
	}
	if t.MaxFailuresPerIP <= 0 {
		t.MaxFailuresPerIP = DefaultMaxFailuresPerIP
	}
	if t.MaxFreshIPFailuresPerEmail <= 0 {
		t.MaxFreshIPFailuresPerEmail = 4 * t.MaxFailuresPerEmail
	}
	if t.Window <= 0 {
		t.Window = DefaultFailureWindow
	}
	if t.MaxTracked <= 0 {
		t.MaxTracked = DefaultMaxTracked
	}
	return t
}

// failureCounter counts attempts per key in fixed windows that start at a key's first attempt. Its
// memory is bounded: expired windows are dropped as new ones start, and beyond max keys the oldest
// window is forgotten.
type failureCounter struct {
	limit  int
	window time.Duration
	max    int

	mu    sync.Mutex
	keys  map[string]*list.Element // key → element of order holding *failureWindow
	order *list.List               // windows by start time, oldest first
}

type failureWindow struct {
	key      string
	start    time.Time
	failures int
}

func newFailureCounter(limit int, window time.Duration, max int) *failureCounter {
	return &failureCounter{limit: limit, window: window, max: max, keys: map[string]*list.Element{}, order: list.New()}
}

// take counts one attempt for key unless the key is at its limit, in which case it reports how long
// until the window ends.
func (f *failureCounter) take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expireLocked(now)
	if el, found := f.keys[key]; found {
		w := el.Value.(*failureWindow)
		if w.failures >= f.limit {
			return false, w.start.Add(f.window).Sub(now)
		}
		w.failures++
		return true, 0
	}
	f.keys[key] = f.order.PushBack(&failureWindow{key: key, start: now, failures: 1})
	for f.order.Len() > f.max {
		f.removeLocked(f.order.Front())
	}
	return true, 0
}

// refund takes back one attempt of key (it succeeded, or was never checked).
func (f *failureCounter) refund(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if el, found := f.keys[key]; found {
		if w := el.Value.(*failureWindow); w.failures > 0 {
			w.failures--
		}
	}
}

// failures returns key's attempts in its current window.
func (f *failureCounter) failures(key string, now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expireLocked(now)
	if el, found := f.keys[key]; found {
		return el.Value.(*failureWindow).failures
	}
	return 0
}

// reset forgets key's failures.
func (f *failureCounter) reset(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if el, found := f.keys[key]; found {
		f.removeLocked(el)
	}
}

// tracked is the number of keys remembered (for tests).
func (f *failureCounter) tracked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// expireLocked drops the windows that have ended. Windows are in start order, so they are at the front.
func (f *failureCounter) expireLocked(now time.Time) {
	for el := f.order.Front(); el != nil; el = f.order.Front() {
		if now.Sub(el.Value.(*failureWindow).start) < f.window {
			return
		}
		f.removeLocked(el)
	}
}

func (f *failureCounter) removeLocked(el *list.Element) {
	w := f.order.Remove(el).(*failureWindow)
	delete(f.keys, w.key)
}

// limiter throttles log-in attempts by email and by client IP.
type limiter struct {
	byEmail, byIP *failureCounter
	// byEmailFresh counts, per email, the attempts let through from fresh addresses while byEmail is
	// at its limit (Throttle.MaxFreshIPFailuresPerEmail).
	byEmailFresh *failureCounter
	now          func() time.Time
}

func newLimiter(t Throttle, now func() time.Time) *limiter {
	t = t.withDefaults()
	return &limiter{
		byEmail:      newFailureCounter(t.MaxFailuresPerEmail, t.Window, t.MaxTracked),
		byIP:         newFailureCounter(t.MaxFailuresPerIP, t.Window, t.MaxTracked),
		byEmailFresh: newFailureCounter(t.MaxFreshIPFailuresPerEmail, t.Window, t.MaxTracked),
		now:          now,
	}
}

// attemptTicket is what an attempt counted, for succeeded and abandon to take back.
type attemptTicket struct {
	email, ip string
	fresh     bool // counted on byEmailFresh (the email was at its limit), not on byEmail
}

// attempt counts an attempt for email and ip, or reports how long the caller must wait. An email at
// its limit still lets a fresh address try (Throttle.MaxFreshIPFailuresPerEmail). The attempt counts
// as a failure until succeeded is called.
func (l *limiter) attempt(email, ip string) (t attemptTicket, ok bool, retryAfter time.Duration) {
	now := l.now()
	t = attemptTicket{email: email, ip: ip}
	if ok, wait := l.byEmail.take(email, now); !ok {
		if l.byIP.failures(ip, now) > 0 {
			return t, false, wait
		}
		if ok, freshWait := l.byEmailFresh.take(email, now); !ok {
			return t, false, max(wait, freshWait)
		}
		t.fresh = true
	}
	if ok, wait := l.byIP.take(ip, now); !ok {
		l.emailCounter(t).refund(email)
		return t, false, wait
	}
	return t, true, 0
}

func (l *limiter) emailCounter(t attemptTicket) *failureCounter {
	if t.fresh {
		return l.byEmailFresh
	}
	return l.byEmail
}

// succeeded takes back the attempt: the email's failures are forgotten (its owner is back), the IP's
// count only loses this attempt (a client must not clear its record by logging into its own account
// between guesses at others).
func (l *limiter) succeeded(t attemptTicket) {
	l.byEmail.reset(t.email)
	l.byEmailFresh.reset(t.email)
	l.byIP.refund(t.ip)
}

// abandon takes back an attempt that was never decided (the server failed).
func (l *limiter) abandon(t attemptTicket) {
	l.emailCounter(t).refund(t.email)
	l.byIP.refund(t.ip)
}
