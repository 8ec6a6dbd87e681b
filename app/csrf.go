package app

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/labstack/echo/v4"

	"videotutorials/templates"
)

// CSRF protection is a synchronizer token bound to the session: the secret
// part is HMAC(csrfKey, sessionID), so a token is valid only together with the
// session cookie it was issued for (a token lifted from another visitor's
// page is useless), and nothing has to be stored on the server. Each token
// handed out is masked with a fresh one-time pad, so it differs on every page
// and a compressed response cannot leak it byte by byte (BREACH).
//
// Every POST, PUT, PATCH and DELETE to a route that has a handler for it must
// carry it, either in the X-CSRF-Token header or in the _csrf form field. SameSite=Lax cookies already stop most
// cross-site posts; the token also covers same-site attackers and old
// browsers.

const (
	// CSRFFormField is the hidden form field carrying the token
	// (templates.CSRFField renders it).
	CSRFFormField = templates.CSRFFieldName
	// CSRFHeader is the request header carrying the token, for scripts.
	CSRFHeader = "X-CSRF-Token"

	csrfSecretLen = sha256.Size
	// maxFirstPartPeek bounds how much of a multipart body the check reads to
	// find the token in the first part; the token part is tiny.
	maxFirstPartPeek = 16 << 10
)

// CSRFToken returns a token for forms on the page being rendered (PageFor
// puts it into templates.Page). It creates an anonymous session if the visitor
// has none yet, because the token is bound to the session.
func CSRFToken(c echo.Context) string {
	st := sessionOf(c)
	if st == nil {
		return ""
	}
	st.ensure()
	secret := st.csrfSecret()
	// The pad is sent in the token itself, so it needs to differ between
	// responses (BREACH), not to be secret.
	var token [2 * csrfSecretLen]byte
	if _, err := rand.Read(token[:csrfSecretLen]); err != nil {
		panic("app: reading random bytes: " + err.Error())
	}
	for i := range secret {
		token[csrfSecretLen+i] = token[i] ^ secret[i]
	}
	var out [csrfTokenLen]byte
	base64.RawURLEncoding.Encode(out[:], token[:])
	return string(out[:])
}

// csrfTokenLen is the length of a token: base64url of the pad and the masked
// secret.
const csrfTokenLen = (2*csrfSecretLen*8 + 5) / 6

// validCSRFToken reports whether token was issued for the request's session.
func validCSRFToken(st *session, token string) bool {
	if st == nil || !st.valid || len(token) != csrfTokenLen {
		return false
	}
	var raw [2 * csrfSecretLen]byte
	if n, err := decodeB64(raw[:], token); err != nil || n != len(raw) {
		return false
	}
	var got [csrfSecretLen]byte
	for i := range got {
		got[i] = raw[i] ^ raw[csrfSecretLen+i]
	}
	return hmac.Equal(got[:], st.csrfSecret())
}

var errCSRF = &Error{
	Status:  http.StatusForbidden,
	Message: "This form has expired or did not come from this site. Please reload the page and try again.",
}

// checkCSRF rejects state-changing requests without a valid token (403). A
// request that routing already answers with 404 or 405 (Server.routeOf) needs
// none: no handler of its method will run, so nothing it could change, and its
// sender learns what is wrong (no such page, or the methods in Allow) rather
// than that a form expired.
func (s *Server) checkCSRF(c echo.Context, next echo.HandlerFunc) error {
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return next(c)
	}
	route, unrouted := s.routeOf(c)
	if unrouted {
		return next(c)
	}
	token, err := requestCSRFToken(c)
	if err != nil {
		return err
	}
	st := sessionOf(c)
	if !validCSRFToken(st, token) {
		if route.signedOutTo != "" && !signedIn(st) {
			// A log-out of a session that is not signed in (Router.LogOut):
			// it changes nothing, so it ends where a log-out does.
			return c.Redirect(http.StatusSeeOther, route.signedOutTo)
		}
		return errCSRF
	}
	return next(c)
}

// requestCSRFToken finds the token: header first (no body reading), then the
// form. A body over the limit surfaces as *http.MaxBytesError (413).
func requestCSRFToken(c echo.Context) (string, error) {
	req := c.Request()
	if t := req.Header.Get(CSRFHeader); t != "" {
		return t, nil
	}
	mediaType, params, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil {
		return "", nil
	}
	switch mediaType {
	case echo.MIMEApplicationForm:
		if err := req.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return "", err
			}
			return "", BadRequest(msgUnreadableForm)
		}
		return req.PostForm.Get(CSRFFormField), nil
	case echo.MIMEMultipartForm:
		rs := requestOf(c)
		if rs == nil || rs.body == nil || params["boundary"] == "" {
			return "", nil
		}
		return peekMultipartToken(rs.body, params["boundary"]), nil
	}
	return "", nil
}

// peekMultipartToken reads the first part of a multipart body, which must be
// the _csrf field, and then puts the bytes it consumed back in front of the
// body. Parsing the whole form here would buffer a video upload to disk
// before we know the request is legitimate, and before the route's
// BodyLimit has raised the limit; peeking keeps uploads streamable.
func peekMultipartToken(body *limitedBody, boundary string) string {
	var consumed bytes.Buffer
	tee := io.TeeReader(io.LimitReader(body.src, maxFirstPartPeek), &consumed)
	defer func() {
		body.src = readCloser{io.MultiReader(bytes.NewReader(consumed.Bytes()), body.src), body.src}
	}()
	part, err := multipart.NewReader(tee, boundary).NextPart()
	if err != nil || part.FormName() != CSRFFormField {
		return ""
	}
	value, err := io.ReadAll(io.LimitReader(part, 512))
	if err != nil {
		return ""
	}
	return string(value)
}

type readCloser struct {
	io.Reader
	io.Closer
}
