package app

import (
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"videotutorials/app/live"
)

// LiveStream returns a handler that streams the live events of one topic to
// the page (server-sent events). topic decides the topic from the request and
// is where authorization happens, e.g. a creator's dashboard stream:
//
//	portal.GET("/live", app.LiveStream(hub, func(c echo.Context) (string, error) {
//		id, _ := app.CurrentUserID(c) // portal group has RequireLogin
//		return live.DashboardTopic(id), nil
//	}))
//
// Returning an error renders it as usual (plain text, since EventSource asks
// for text/event-stream). Streams end when the client leaves, when the server
// starts shutting down, and, for a stream opened by a signed-in session, when
// that session is logged out: here or in another process, found as the shell
// finds it for every request (revocation.go), before each event and at each
// heartbeat. Otherwise a stream held open by a tab (or a copied cookie) would
// go on delivering the user's updates after the log-out. Its reconnection is
// then refused by the route's RequireLogin like any other request. One
// session holds at most maxLiveStreamsPerSession streams at once, and one
// client address at most maxLiveStreamsPerAddress whatever its sessions; the
// next is refused with 429 and Retry-After until one of them ends.
func LiveStream(hub *live.Hub, topic func(c echo.Context) (string, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := topic(c)
		if err != nil {
			return err
		}
		if c.Request().Method == http.MethodHead {
			live.Head(c.Response())
			return nil
		}
		var opts live.StreamOptions
		if rs := requestOf(c); rs != nil {
			key := liveStreamKeyOf(c)
			if !rs.srv.liveStreams.acquire(key) {
				c.Response().Header().Set("Retry-After", liveStreamRetryAfter)
				return TooManyRequests("Too many live pages are open at once. Close some of them and reload this one.")
			}
			defer rs.srv.liveStreams.release(key)
			opts.Stop = rs.srv.draining
			if st := sessionOf(c); signedIn(st) {
				opts.Valid = rs.srv.stillSignedIn(c, sessionRef(st.data.SID))
			}
		}
		LiftRequestDeadline(c) // a stream stays open for as long as its page does
		return live.Stream(c.Response(), c.Request(), hub.Subscribe(t), opts)
	}
}

// stillSignedIn returns a check that the signed-in session ref was not logged out since the request
// began. Like loadSession it keeps the session when the lookup fails (logged): a database hiccup does
// not end every stream.
func (s *Server) stillSignedIn(c echo.Context, ref string) func() bool {
	ctx := c.Request().Context()
	return func() bool {
		revoked, err := s.revocations.revoked(ctx, ref, s.now())
		if err != nil && ctx.Err() != nil {
			return false // the client left; the stream is ending anyway
		}
		if err != nil {
			Logger(c).Warn("checking whether the session of a live stream was logged out failed; keeping it", "err", err)
		}
		return !revoked
	}
}

// maxLiveStreamsPerSession bounds the live streams one session holds open at once, because each
// holds a goroutine, a socket and a hub subscription for as long as its page stays open. A person
// has one stream per open tab of a live page (home, dashboard, operation, admin), and more than 16
// such tabs of this site at once is far beyond normal use, while 16 idle streams cost little; past
// it a page just goes without live updates (live.js is an enhancement) and a script that opens
// streams in a loop is held to 16.
const maxLiveStreamsPerSession = 16

// maxLiveStreamsPerAddress bounds the live streams of one client address over all its sessions: a
// script can get a fresh session from any page, so the per-session bound alone does not hold it.
// People behind one address (an office, a school, a carrier's NAT) share it, so it is much higher
// than one person's 16: 256 idle streams are still only goroutines and sockets.
const maxLiveStreamsPerAddress = 256

// liveStreamRetryAfter is the Retry-After of a refused stream: streams end when their pages close,
// which takes a person seconds to minutes. (EventSource does not retry a refused stream; the header
// is for other clients.)
const liveStreamRetryAfter = "30"

// liveStreamKey is what a stream is counted under: its session, or for a request without one the
// client's address (every page with a live stream also has a form, so a browser has a session
// there; a client without one is a script, which could otherwise open streams without end); and
// always its client's address as well (addr).
type liveStreamKey struct {
	sid     [sessionIDBytes]byte
	session bool // sid is set; otherwise the stream counts under addr alone
	addr    string
}

func liveStreamKeyOf(c echo.Context) liveStreamKey {
	if st := sessionOf(c); st != nil && st.valid {
		return liveStreamKey{sid: st.data.SID, session: true, addr: c.RealIP()}
	}
	return liveStreamKey{addr: c.RealIP()}
}

// liveStreamCounts counts the open live streams per session (or per address, for streams without a
// session: the same limit) and per address. Keys with no open stream are removed, so it holds at most
// two entries per open stream.
type liveStreamCounts struct {
	mu          sync.Mutex
	bySession   map[[sessionIDBytes]byte]int
	byAddr      map[string]int // every stream of the address, with or without a session
	sessionless map[string]int // the address's streams without a session
}

// acquire takes a place for a stream of k, if its session (or, without one, its address's
// sessionless streams) has fewer than maxLiveStreamsPerSession and its address fewer than
// maxLiveStreamsPerAddress.
func (l *liveStreamCounts) acquire(k liveStreamKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[k.addr] >= maxLiveStreamsPerAddress {
		return false
	}
	if k.session && l.bySession[k.sid] >= maxLiveStreamsPerSession ||
		!k.session && l.sessionless[k.addr] >= maxLiveStreamsPerSession {
		return false
	}
	if l.byAddr == nil {
		l.bySession, l.byAddr, l.sessionless = map[[sessionIDBytes]byte]int{}, map[string]int{}, map[string]int{}
	}
	l.byAddr[k.addr]++
	if k.session {
		l.bySession[k.sid]++
	} else {
		l.sessionless[k.addr]++
	}
	return true
}

// release gives back the places of a stream of k that ended.
func (l *liveStreamCounts) release(k liveStreamKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	decrement(l.byAddr, k.addr)
	if k.session {
		decrement(l.bySession, k.sid)
	} else {
		decrement(l.sessionless, k.addr)
	}
}

// decrement lowers m[k] by one, removing the key at zero.
func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// LiveTopic is a topic function for a fixed, public topic such as "home".
func LiveTopic(topic string) func(echo.Context) (string, error) {
	return func(echo.Context) (string, error) { return topic, nil }
}
