package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// Sessions are a signed cookie, no server-side store: the cookie value is
// base64url(JSON payload) "." base64url(HMAC-SHA256(key, payload)). The
// payload is not secret (it holds ids and times, and the cookie is HttpOnly),
// only unforgeable. Expiry is inside the signed payload, so a stolen or
// replayed cookie stops working server-side even if a browser ignores
// Expires. Anything that does not verify is treated as "no session": a
// tampered, truncated, expired or foreign cookie never causes an error page.

// SessionCookieName is the name of the session cookie.
const SessionCookieName = "vt_session"

// LoginPath is where RequireLogin sends anonymous visitors.
const LoginPath = "/auth/log-in"

const (
	sessionVersion   = 1
	maxCookieLen     = 4096
	sessionIDBytes   = 16
	allowedClockSkew = 5 * time.Minute
)

type sessionData struct {
	V    int    `json:"v"`
	SID  string `json:"sid"`            // random per session; CSRF tokens are bound to it
	UID  string `json:"uid,omitempty"`  // signed-in user, empty when anonymous
	Auth int64  `json:"auth,omitempty"` // when the user signed in (unix s); caps renewal
	IAT  int64  `json:"iat"`            // when this cookie was issued (unix s)
	EXP  int64  `json:"exp"`            // when it stops being valid (unix s)
}

type sessionCodec struct {
	macKey  []byte
	csrfKey []byte
	ttl     time.Duration
	maxAge  time.Duration
}

// newSessionCodec derives independent keys for the two uses of the secret,
// so a value signed for one purpose is never valid for the other.
func newSessionCodec(secret []byte, ttl, maxAge time.Duration) *sessionCodec {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("videotutorials/" + label))
		return m.Sum(nil)
	}
	return &sessionCodec{macKey: derive("session-cookie/v1"), csrfKey: derive("csrf-token/v1"), ttl: ttl, maxAge: maxAge}
}

func (k *sessionCodec) mac(payload string) []byte {
	m := hmac.New(sha256.New, k.macKey)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (k *sessionCodec) encode(d sessionData) string {
	raw, err := json.Marshal(d)
	if err != nil {
		panic("app: encoding session: " + err.Error()) // plain struct; cannot fail
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + base64.RawURLEncoding.EncodeToString(k.mac(payload))
}

func (k *sessionCodec) decode(value string, now time.Time) (sessionData, bool) {
	var d sessionData
	if len(value) > maxCookieLen {
		return d, false
	}
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return d, false
	}
	gotMAC, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(gotMAC, k.mac(payload)) {
		return d, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(raw, &d) != nil {
		return sessionData{}, false
	}
	unix := now.Unix()
	switch {
	case d.V != sessionVersion, d.SID == "", len(d.SID) > 64:
		return sessionData{}, false
	case unix >= d.EXP, d.IAT > unix+int64(allowedClockSkew/time.Second):
		return sessionData{}, false
	case d.UID != "" && (!isUUID(d.UID) || d.Auth == 0 || unix >= d.Auth+int64(k.maxAge/time.Second)):
		return sessionData{}, false
	}
	return d, true
}

// session is the per-request session state, kept in echo.Context.
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
}

func newSessionID() string {
	b := make([]byte, sessionIDBytes)
	if _, err := rand.Read(b); err != nil {
		panic("app: reading random bytes: " + err.Error()) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (st *session) issue(uid string, auth int64) {
	st.data = sessionData{V: sessionVersion, SID: newSessionID(), UID: uid, Auth: auth}
	st.extend()
	st.valid = true
	st.user, st.userErr, st.userDone = nil, nil, false
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

func (st *session) writeCookie(c echo.Context) {
	cookie := &http.Cookie{
		Name:     SessionCookieName,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   st.srv.deps.SecureCookies || c.IsTLS() || c.Scheme() == "https",
	}
	switch {
	case st.dirty && st.valid:
		cookie.Value = st.srv.sessions.encode(st.data)
		cookie.Expires = time.Unix(st.data.EXP, 0)
		cookie.MaxAge = int(st.data.EXP - st.now.Unix())
	case st.stale:
		cookie.MaxAge = -1 // remove the unusable cookie
	default:
		return
	}
	c.SetCookie(cookie)
}

// loadSession reads and verifies the session cookie, renews it when more than
// half of its lifetime has passed (so active users stay signed in, up to the
// absolute limit) and arranges for the cookie to be written just before the
// response headers go out, so it is set once however often it changes.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		st := &session{srv: s, now: s.now()}
		for _, ck := range c.Cookies() {
			if ck.Name != SessionCookieName {
				continue
			}
			// Several cookies of that name can arrive (set for other paths or
			// by a sibling domain); use the first that verifies.
			if d, ok := s.sessions.decode(ck.Value, st.now); ok {
				st.data, st.valid, st.stale = d, true, false
				break
			}
			st.stale = true
		}
		if st.valid && time.Unix(st.data.EXP, 0).Sub(st.now) < s.sessions.ttl/2 {
			st.extend()
		}
		c.Set(sessionKey, st)
		setUserID(c, st.data.UID)
		c.Response().Before(func() { st.writeCookie(c) })
		return next(c)
	}
}

var errNoSession = errors.New("app: no session middleware on this request (is the handler mounted on app.Server?)")

func sessionOf(c echo.Context) *session {
	st, _ := c.Get(sessionKey).(*session)
	return st
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
	if !isUUID(userID) {
		return errors.New("app: SignIn: user id must be a UUID")
	}
	st.issue(userID, st.now.Unix())
	setUserID(c, userID)
	return nil
}

// SignOut ends the user's session and replaces it with a fresh anonymous one
// (a new session id, so tokens of the old session are void).
func SignOut(c echo.Context) error {
	st := sessionOf(c)
	if st == nil {
		return errNoSession
	}
	st.issue("", 0)
	setUserID(c, "")
	return nil
}

// CurrentUserID returns the signed-in user's id.
func CurrentUserID(c echo.Context) (string, bool) {
	st := sessionOf(c)
	if st == nil || !st.valid || st.data.UID == "" {
		return "", false
	}
	return st.data.UID, true
}

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

func isUUID(s string) bool {
	_, ok := ParseID(s)
	return ok
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
