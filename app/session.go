package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// Sessions are a signed cookie, no server-side store: the cookie value is
// base64url(payload) "." base64url(HMAC-SHA256(key, payload)), where payload
// is a fixed binary layout (sessionData.appendPayload). The payload is not
// secret (it holds ids and times, and the cookie is HttpOnly), only
// unforgeable. Expiry is inside the signed payload, so a stolen or replayed
// cookie stops working server-side even if a browser ignores Expires.
// Anything that does not verify is treated as "no session": a tampered,
// truncated, expired or foreign cookie, or one in an older format, never
// causes an error page.
//
// The layout is binary rather than JSON because the cookie is decoded on every
// request: fixed offsets need no reflection and no allocation.

// SessionCookieName is the name of the session cookie.
const SessionCookieName = "vt_session"

// LoginPath is where RequireLogin sends anonymous visitors.
const LoginPath = "/auth/log-in"

const (
	// sessionVersion is the first byte of the payload. Version 1 was JSON;
	// its cookies no longer verify (its payload never starts with this byte,
	// and the key label changed with it), so they count as absent.
	sessionVersion   = 2
	maxCookieLen     = 4096
	sessionIDBytes   = 16
	allowedClockSkew = 5 * time.Minute
)

// Payload layout: version, session id, issued at, expires, signed in at
// (unix seconds, big-endian), then the user id's 16 bytes when signed in.
const (
	payloadAnonLen = 1 + sessionIDBytes + 3*8
	payloadUserLen = payloadAnonLen + 16
	macLen         = sha256.Size
)

type sessionData struct {
	SID  [sessionIDBytes]byte // random per session; CSRF tokens are bound to it
	UID  string               // signed-in user (canonical UUID), empty when anonymous
	Auth int64                // when the user signed in (unix s); caps renewal
	IAT  int64                // when this cookie was issued (unix s)
	EXP  int64                // when it stops being valid (unix s)
}

// appendPayload appends the binary payload of d. d.UID must be empty or a
// canonical UUID.
func (d *sessionData) appendPayload(b []byte) []byte {
	b = append(b, sessionVersion)
	b = append(b, d.SID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(d.IAT))
	b = binary.BigEndian.AppendUint64(b, uint64(d.EXP))
	b = binary.BigEndian.AppendUint64(b, uint64(d.Auth))
	if d.UID != "" {
		id, err := uuid.Parse(d.UID)
		if err != nil {
			panic("app: session user id is not a UUID: " + err.Error()) // SignIn validates it
		}
		b = append(b, id[:]...)
	}
	return b
}

// parsePayload is the inverse of appendPayload; it checks only the layout.
func parsePayload(b []byte) (sessionData, bool) {
	var d sessionData
	if (len(b) != payloadAnonLen && len(b) != payloadUserLen) || b[0] != sessionVersion {
		return d, false
	}
	copy(d.SID[:], b[1:])
	d.IAT = int64(binary.BigEndian.Uint64(b[17:]))
	d.EXP = int64(binary.BigEndian.Uint64(b[25:]))
	d.Auth = int64(binary.BigEndian.Uint64(b[33:]))
	if len(b) == payloadUserLen {
		d.UID = uuid.UUID(b[payloadAnonLen:]).String()
	}
	return d, true
}

// cookieB64 is strict: a value has exactly one encoding, so nothing about a
// cookie can be changed without breaking its MAC.
var cookieB64 = base64.RawURLEncoding.Strict()

type sessionCodec struct {
	cookieMAC *macPool
	csrfMAC   *macPool
	ttl       time.Duration
	maxAge    time.Duration
}

// newSessionCodec derives independent keys for the two uses of the secret,
// so a value signed for one purpose is never valid for the other.
func newSessionCodec(secret []byte, ttl, maxAge time.Duration) *sessionCodec {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("videotutorials/" + label))
		return m.Sum(nil)
	}
	return &sessionCodec{
		cookieMAC: newMACPool(derive("session-cookie/v2")),
		csrfMAC:   newMACPool(derive("csrf-token/v2")),
		ttl:       ttl,
		maxAge:    maxAge,
	}
}

// macPool reuses HMAC states of one key: a reset HMAC starts from its saved
// padded-key state instead of hashing the key blocks again, and the scratch
// buffers next to it keep encoding and decoding free of allocations.
type macPool struct{ p sync.Pool }

type macScratch struct {
	h   hash.Hash
	buf [128]byte
	sum [macLen]byte
}

func newMACPool(key []byte) *macPool {
	mp := &macPool{}
	mp.p.New = func() any { return &macScratch{h: hmac.New(sha256.New, key)} }
	return mp
}

func (mp *macPool) get() *macScratch {
	m := mp.p.Get().(*macScratch)
	m.h.Reset()
	return m
}

func (mp *macPool) put(m *macScratch) { mp.p.Put(m) }

// mac computes the HMAC of msg into m.sum.
func (m *macScratch) mac(msg []byte) []byte {
	m.h.Write(msg)
	return m.h.Sum(m.sum[:0])
}

func (k *sessionCodec) encode(d *sessionData) string {
	m := k.cookieMAC.get()
	defer k.cookieMAC.put(m)
	payload := d.appendPayload(m.buf[:0])
	sum := m.mac(payload)
	out := make([]byte, cookieB64.EncodedLen(len(payload))+1+cookieB64.EncodedLen(len(sum)))
	n := cookieB64.EncodedLen(len(payload))
	cookieB64.Encode(out, payload)
	out[n] = '.'
	cookieB64.Encode(out[n+1:], sum)
	return string(out)
}

func (k *sessionCodec) decode(value string, now time.Time) (sessionData, bool) {
	if len(value) > maxCookieLen {
		return sessionData{}, false
	}
	payloadText, sigText, ok := strings.Cut(value, ".")
	if !ok || len(sigText) != cookieB64.EncodedLen(macLen) ||
		(len(payloadText) != cookieB64.EncodedLen(payloadAnonLen) && len(payloadText) != cookieB64.EncodedLen(payloadUserLen)) {
		return sessionData{}, false
	}
	m := k.cookieMAC.get()
	defer k.cookieMAC.put(m)
	// buf holds the payload, then the MAC the cookie carries.
	n, err := decodeB64(m.buf[:], payloadText)
	if err != nil {
		return sessionData{}, false
	}
	payload := m.buf[:n]
	got := m.buf[n : n+macLen]
	if k, err := decodeB64(got, sigText); err != nil || k != macLen {
		return sessionData{}, false
	}
	if !hmac.Equal(got, m.mac(payload)) {
		return sessionData{}, false
	}
	d, ok := parsePayload(payload)
	if !ok {
		return sessionData{}, false
	}
	unix := now.Unix()
	switch {
	case unix >= d.EXP, d.IAT > unix+int64(allowedClockSkew/time.Second):
		return sessionData{}, false
	case d.UID != "" && (d.Auth == 0 || unix >= d.Auth+int64(k.maxAge/time.Second)):
		return sessionData{}, false
	case d.UID == "" && d.Auth != 0:
		return sessionData{}, false
	}
	return d, true
}

// decodeB64 decodes the base64url text s into dst without converting s to a
// byte slice (which would allocate).
func decodeB64(dst []byte, s string) (int, error) {
	var chunk [64]byte
	total := 0
	for len(s) > 0 {
		// Whole groups of 4 characters except for the last piece, so that
		// every piece decodes on its own.
		take := min(len(s), len(chunk))
		if take < len(s) {
			take -= take % 4
		}
		copy(chunk[:], s[:take])
		n, err := cookieB64.Decode(dst[total:], chunk[:take])
		if err != nil {
			return 0, err
		}
		total += n
		s = s[take:]
	}
	return total, nil
}

// session is the per-request session state, part of the request state in
// echo.Context.
type session struct {
	srv   *Server
	now   time.Time
	data  sessionData
	valid bool // data is an established session
	dirty bool // the cookie must be (re)written
	stale bool // the request carried a cookie that did not verify
	// user caches the Identify lookup for data.UID within the request.
	user     *User
	userErr  error
	userDone bool
	// csrf caches the CSRF secret of data.SID within the request.
	csrf     [csrfSecretLen]byte
	csrfDone bool
}

func newSessionID() (id [sessionIDBytes]byte) {
	if _, err := rand.Read(id[:]); err != nil {
		panic("app: reading random bytes: " + err.Error()) // never fails on supported platforms
	}
	return id
}

func (st *session) issue(uid string, auth int64) {
	st.data = sessionData{SID: newSessionID(), UID: uid, Auth: auth}
	st.extend()
	st.valid = true
	st.user, st.userErr, st.userDone = nil, nil, false
	st.csrfDone = false
}

// extend sets a fresh expiry, never beyond the absolute limit of a sign-in.
func (st *session) extend() {
	codec := st.srv.sessions
	exp := st.now.Add(codec.ttl).Unix()
	if st.data.UID != "" {
		if limit := st.data.Auth + int64(codec.maxAge/time.Second); exp > limit {
			exp = limit
		}
	}
	st.data.IAT = st.now.Unix()
	st.data.EXP = exp
	st.dirty = true
}

// ensure makes sure the visitor has a session (anonymous if need be), which
// CSRF tokens are bound to.
func (st *session) ensure() {
	if !st.valid {
		st.issue("", 0)
	}
}

// csrfSecret is the secret part of the session's CSRF tokens.
func (st *session) csrfSecret() []byte {
	if !st.csrfDone {
		m := st.srv.sessions.csrfMAC.get()
		copy(st.csrf[:], m.mac(st.data.SID[:]))
		st.srv.sessions.csrfMAC.put(m)
		st.csrfDone = true
	}
	return st.csrf[:]
}

// writeCookie sets (or deletes) the session cookie when it changed. Unchanged
// sessions send no Set-Cookie at all.
func (st *session) writeCookie(c echo.Context) {
	var value string
	var maxAge int64
	switch {
	case st.dirty && st.valid:
		value = st.srv.sessions.encode(&st.data)
		maxAge = st.data.EXP - st.now.Unix()
	case st.stale:
		maxAge = -1 // remove the unusable cookie
	default:
		return
	}
	secure := st.srv.deps.SecureCookies || c.IsTLS() || c.Scheme() == "https"
	var expires int64
	if value != "" {
		expires = st.data.EXP
	}
	h := c.Response().Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], sessionSetCookie(value, expires, maxAge, secure))
}

// sessionSetCookie formats the Set-Cookie value of the session cookie, as
// http.Cookie.String would (Path=/, HttpOnly, SameSite=Lax; Expires when
// expires is not 0; Max-Age=0 when maxAge < 0), without its allocations.
// value is base64url and a dot, which need neither quoting nor sanitizing.
func sessionSetCookie(value string, expires, maxAge int64, secure bool) string {
	b := make([]byte, 0, len(SessionCookieName)+len(value)+128)
	b = append(b, SessionCookieName...)
	b = append(b, '=')
	b = append(b, value...)
	b = append(b, "; Path=/"...)
	if expires != 0 {
		b = append(b, "; Expires="...)
		b = append(b, cookieExpires(expires)...)
	}
	switch {
	case maxAge > 0:
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, maxAge, 10)
	case maxAge < 0:
		b = append(b, "; Max-Age=0"...)
	}
	b = append(b, "; HttpOnly"...)
	if secure {
		b = append(b, "; Secure"...)
	}
	b = append(b, "; SameSite=Lax"...)
	return string(b)
}

// cookieExpires formats unix as an Expires attribute. Sessions issued in
// the same second expire in the same second, so the last text is kept.
func cookieExpires(unix int64) string {
	if last := lastExpires.Load(); last != nil && last.unix == unix {
		return last.text
	}
	e := &formattedExpires{unix: unix, text: time.Unix(unix, 0).UTC().Format(http.TimeFormat)}
	lastExpires.Store(e)
	return e.text
}

type formattedExpires struct {
	unix int64
	text string
}

var lastExpires atomic.Pointer[formattedExpires]

// loadSession reads and verifies the session cookie, renews it when more than
// half of its lifetime has passed (so active users stay signed in, up to the
// absolute limit) and arranges for the cookie to be written just before the
// response headers go out, so it is set once however often it changes.
func (s *Server) loadSession(c echo.Context, next echo.HandlerFunc) error {
	rs := requestOf(c) // observe made it
	st := &rs.session
	*st = session{srv: s, now: s.now()}
	rs.hasSession = true
	// Several cookies of that name can arrive (set for other paths or by
	// a sibling domain); use the first that verifies.
	for _, line := range c.Request().Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name != SessionCookieName {
				continue
			}
			value, ok = cookieValue(value)
			if !ok {
				continue // not a cookie value at all; net/http skips these too
			}
			if d, ok := s.sessions.decode(value, st.now); ok {
				st.data, st.valid, st.stale = d, true, false
				break
			}
			st.stale = true
		}
		if st.valid {
			break
		}
	}
	if st.valid && st.data.UID != "" {
		ref := sessionRef(st.data.SID)
		revoked, err := s.revocations.revoked(c.Request().Context(), ref, st.now)
		if err != nil {
			Logger(c).Warn("checking whether the session was logged out failed; keeping it", "err", err)
		}
		if revoked {
			// Logged out (here or in another process): this cookie is no session at all.
			st.data, st.valid, st.stale = sessionData{}, false, true
		}
	}
	if st.valid && time.Unix(st.data.EXP, 0).Sub(st.now) < s.sessions.ttl/2 {
		st.extend()
	}
	setUserID(c, st.data.UID)
	c.Response().Before(func() { st.writeCookie(c) })
	return s.checkCSRF(c, next)
}

// cookieValue strips the optional double quotes of a cookie value and checks
// its characters as net/http does when it parses a Cookie header.
func cookieValue(v string) (string, bool) {
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return v, true
}

var errNoSession = errors.New("app: no session middleware on this request (is the handler mounted on app.Server?)")

func sessionOf(c echo.Context) *session {
	rs := requestOf(c)
	if rs == nil || !rs.hasSession {
		return nil
	}
	return &rs.session
}

// SignIn starts a new session for userID (a UUID). The session id is
// rotated, so a session id planted before log-in is useless afterwards
// (session fixation), and CSRF tokens issued to the anonymous session stop
// working. Call it before writing the response (typically before a redirect).
func SignIn(c echo.Context, userID string) error {
	st := sessionOf(c)
	if st == nil {
		return errNoSession
	}
	id, ok := ParseID(userID)
	if !ok {
		return errors.New("app: SignIn: user id must be a UUID")
	}
	st.issue(id, st.now.Unix())
	setUserID(c, id)
	return nil
}

// SignOut ends the user's session and replaces it with a fresh anonymous one
// (a new session id, so tokens of the old session are void). The old session's
// cookie is refused from then on: in this process at once, in the others once
// Deps.SessionRevoked learns of the log-out (the caller records it first; see
// SessionRef).
func SignOut(c echo.Context) error {
	st := sessionOf(c)
	if st == nil {
		return errNoSession
	}
	if st.valid && st.data.UID != "" {
		st.srv.revocations.forget(sessionRef(st.data.SID)) // other processes learn it from the log-out event
	}
	st.issue("", 0)
	setUserID(c, "")
	return nil
}

// CurrentUserID returns the signed-in user's id.
func CurrentUserID(c echo.Context) (string, bool) {
	st := sessionOf(c)
	if !signedIn(st) {
		return "", false
	}
	return st.data.UID, true
}

// signedIn reports whether st is a signed-in session (not logged out: loadSession drops those).
func signedIn(st *session) bool { return st != nil && st.valid && st.data.UID != "" }

// User is the signed-in user as the shell knows it.
type User struct {
	ID      string
	Email   string // empty when Deps.Identify is not set or does not know the user
	IsAdmin bool
}

// CurrentUser returns the signed-in user with the details from
// Deps.Identify. A failing lookup is logged and yields a user with the id
// only (the page still renders; admin rights are not granted).
func CurrentUser(c echo.Context) (User, bool) {
	u, ok, err := resolveUser(c)
	if err != nil {
		Logger(c).Warn("identify user failed", "userId", u.ID, "error", err)
	}
	return u, ok
}

// resolveUser looks the user up at most once per request.
func resolveUser(c echo.Context) (User, bool, error) {
	id, ok := CurrentUserID(c)
	if !ok {
		return User{}, false, nil
	}
	st := sessionOf(c)
	if !st.userDone {
		st.userDone = true
		u := &User{ID: id}
		if identify := st.srv.deps.Identify; identify != nil {
			ident, err := identify(c.Request().Context(), id)
			if err != nil {
				st.userErr = err
			} else {
				u.Email, u.IsAdmin = ident.Email, ident.IsAdmin
			}
		}
		st.user = u
	}
	return *st.user, true, st.userErr
}

// RequireLogin is middleware for pages that need a signed-in user. Anonymous
// page requests are redirected (303) to the log-in page with next set to the
// page they wanted (GET/HEAD only: replaying a POST after log-in would be a
// surprise); requests that do not want HTML get 401.
func RequireLogin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := CurrentUserID(c); ok {
			return next(c)
		}
		return redirectToLogin(c)
	}
}

// RequireAdmin is middleware for the admin portal: anonymous visitors are
// treated as by RequireLogin, signed-in users who are not admins get 403. If
// the user cannot be looked up the request fails (500) rather than guessing.
func RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, ok, err := resolveUser(c)
		if !ok {
			return redirectToLogin(c)
		}
		if err != nil {
			return err
		}
		if !u.IsAdmin {
			return Forbidden("This area is for administrators.")
		}
		return next(c)
	}
}

func redirectToLogin(c echo.Context) error {
	if !wantsHTML(c) {
		return Unauthorized("")
	}
	req := c.Request()
	next := ""
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		next = req.URL.RequestURI()
	}
	return c.Redirect(http.StatusSeeOther, LoginURL(next))
}

// LoginURL is the log-in page URL that returns to next afterwards; next is
// dropped when it is not a safe local path.
func LoginURL(next string) string {
	if next == "" || next == "/" || !IsLocalPath(next) {
		return LoginPath
	}
	return LoginPath + "?next=" + url.QueryEscape(next)
}

// maxRedirectLen bounds next: a legitimate path is short, and a huge value
// would only bloat the Location header.
const maxRedirectLen = 2048

// IsLocalPath reports whether p is safe to redirect to after log-in: a path
// on this site, such as "/creators-portal/videos/…?x=1". It rejects
// everything a browser could resolve to another origin: absolute URLs
// ("https://evil.com"), scheme-relative ones ("//evil.com"), backslash
// variants ("/\evil.com", which browsers read as "//"), and control or space
// characters (browsers drop tabs and newlines, so "/\t/evil.com" would become
// "//evil.com").
func IsLocalPath(p string) bool {
	if p == "" || len(p) > maxRedirectLen || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	return true
}

// SafeRedirect returns next if it is a safe local path (IsLocalPath) and
// fallback otherwise. The log-in handler uses it on its next parameter.
func SafeRedirect(next, fallback string) string {
	if IsLocalPath(next) {
		return next
	}
	return fallback
}

// ParseID accepts an id (a UUID) only in its canonical 36-character form, in
// any case, and returns it in lower case, so that one entity always has one
// stream name. Every id taken from a URL or a form goes through it (400
// otherwise).
func ParseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return id.String(), true
}
