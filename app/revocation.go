package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Log-out is server-side: a session cookie is a signed value that the browser could keep (or an
// attacker could have copied), so clearing it in the browser is not enough. The log-out handler
// records the session's SessionRef (app/authenticate writes UserLoggedOut; an aggregator keeps the
// refs), and loadSession treats a signed-in cookie whose ref was logged out as no session at all.
//
// revocations asks Deps.SessionRevoked, and caches: a revocation for good (it never ends), a "still
// valid" for revocationRecheck, so that a signed-in visitor costs one lookup every few seconds, not one
// per request, and a log-out in another process takes effect within that time (in this process at
// once: Forget).
type revocations struct {
	lookup func(ctx context.Context, ref string) (bool, error)
	mu     sync.Mutex
	valid  map[string]time.Time // ref → when it was last found not revoked
	gone   map[string]struct{}  // refs known to be logged out
}

// revocationRecheck is how long a session found valid is not asked about again.
const revocationRecheck = 2 * time.Second

// maxRevocationEntries bounds each map; past it the map starts afresh (the cost is a few lookups).
const maxRevocationEntries = 100_000

func newRevocations(lookup func(ctx context.Context, ref string) (bool, error)) *revocations {
	return &revocations{lookup: lookup, valid: map[string]time.Time{}, gone: map[string]struct{}{}}
}

// revoked reports whether the session ref was logged out. An error of the lookup keeps the session.
func (r *revocations) revoked(ctx context.Context, ref string, now time.Time) (bool, error) {
	r.mu.Lock()
	_, gone := r.gone[ref]
	checked, ok := r.valid[ref]
	r.mu.Unlock()
	if gone {
		return true, nil // logged out here, or found logged out before
	}
	if r.lookup == nil || (ok && now.Sub(checked) < revocationRecheck) {
		return false, nil
	}
	revoked, err := r.lookup(ctx, ref)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if revoked {
		if len(r.gone) >= maxRevocationEntries {
			clear(r.gone)
		}
		r.gone[ref] = struct{}{}
		delete(r.valid, ref)
	} else {
		if len(r.valid) >= maxRevocationEntries {
			clear(r.valid)
		}
		r.valid[ref] = now
	}
	return revoked, nil
}

// forget records a log-out made by this process, effective at once here.
func (r *revocations) forget(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.gone) >= maxRevocationEntries {
		clear(r.gone)
	}
	r.gone[ref] = struct{}{}
	delete(r.valid, ref)
}

// sessionRef names a session without being its secret: a hash of its id, so that what is stored about
// a log-out cannot be turned back into the session.
func sessionRef(sid [sessionIDBytes]byte) string {
	h := sha256.New()
	h.Write([]byte("videotutorials session ref\x00"))
	h.Write(sid[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// SessionRef names the request's signed-in session (empty when nobody is signed in). The log-out
// handler records it, before SignOut, so that the session's cookie is refused from then on.
func SessionRef(c echo.Context) string {
	st := sessionOf(c)
	if st == nil || !st.valid || st.data.UID == "" {
		return ""
	}
	return sessionRef(st.data.SID)
}
