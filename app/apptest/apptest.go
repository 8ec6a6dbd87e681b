package apptest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/internal/testdb"
)

// SessionSecret signs the test servers' session cookies.
var SessionSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// NewServer mounts apps on the web shell, plus probe routes: GET /t/sign-in/:id signs that user in,
// GET /t/token is a page with a CSRF token, GET /t/whoami tells who is signed in. deps.Logger
// defaults to a quiet one; deps.SessionSecret is always SessionSecret.
func NewServer(t testing.TB, deps app.Deps, apps ...app.Application) *app.Server {
	t.Helper()
	if deps.Logger == nil {
		deps.Logger = testdb.Quiet
	}
	deps.SessionSecret = SessionSecret
	srv := app.New(deps)
	srv.Mount(apps...)
	srv.Mount(app.ApplicationFunc(func(r app.Router) {
		r.GET("/t/sign-in/:id", func(c echo.Context) error {
			if err := app.SignIn(c, c.Param("id")); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		})
		r.GET("/t/token", func(c echo.Context) error {
			return c.HTML(http.StatusOK, `<input type="hidden" name="_csrf" value="`+app.CSRFToken(c)+`">`)
		})
		r.GET("/t/whoami", func(c echo.Context) error {
			id, ok := app.CurrentUserID(c)
			if !ok {
				return c.String(http.StatusOK, "anonymous")
			}
			return c.String(http.StatusOK, id)
		})
	}))
	return srv
}

// Browser is one visitor: it keeps the session cookie between requests and comes from one address
// (RemoteAddr, which a test may change to come from elsewhere).
type Browser struct {
	T          testing.TB
	Server     *app.Server
	RemoteAddr string
	cookies    map[string]*http.Cookie
}

// NewBrowser returns a visitor of srv with no cookies yet.
func NewBrowser(t testing.TB, srv *app.Server) *Browser {
	return &Browser{T: t, Server: srv, RemoteAddr: "192.0.2.1:1234", cookies: map[string]*http.Cookie{}}
}

// Do serves req with the browser's address and cookies (and Accept: text/html unless set) and keeps
// the cookies the response sets or deletes.
func (b *Browser) Do(req *http.Request) *httptest.ResponseRecorder {
	b.T.Helper()
	req.RemoteAddr = b.RemoteAddr
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html")
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.Server.Echo().ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return rec
}

// Copy returns another browser holding a copy of this one's cookies, as someone who copied them would.
func (b *Browser) Copy() *Browser {
	c := NewBrowser(b.T, b.Server)
	c.RemoteAddr = b.RemoteAddr
	for name, cookie := range b.cookies {
		c.cookies[name] = &http.Cookie{Name: cookie.Name, Value: cookie.Value}
	}
	return c
}

// Get loads path.
func (b *Browser) Get(path string) *httptest.ResponseRecorder {
	b.T.Helper()
	return b.Do(httptest.NewRequest(http.MethodGet, path, nil))
}

// Post submits a form as is (add the token with CSRF, or use Submit).
func (b *Browser) Post(path string, form url.Values) *httptest.ResponseRecorder {
	b.T.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// CSRF loads page and returns the CSRF token of its first form.
func (b *Browser) CSRF(page string) string {
	b.T.Helper()
	rec := b.Get(page)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.T.Fatalf("no CSRF token on %s (status %d)", page, rec.Code)
	}
	return m[1]
}

// Submit posts form to path with a token from page, as a browser submitting a form on page would.
func (b *Browser) Submit(page, path string, form url.Values) *httptest.ResponseRecorder {
	b.T.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", b.CSRF(page))
	return b.Post(path, form)
}

// SignIn signs userID in through the probe route of NewServer.
func (b *Browser) SignIn(userID string) {
	b.T.Helper()
	if rec := b.Get("/t/sign-in/" + userID); rec.Code != http.StatusNoContent {
		b.T.Fatalf("sign-in: status %d", rec.Code)
	}
}

// WhoAmI is the signed-in user's id, or "anonymous".
func (b *Browser) WhoAmI() string {
	b.T.Helper()
	return b.Get("/t/whoami").Body.String()
}

// WantStatus fails the test unless rec has status, showing the body.
func WantStatus(t testing.TB, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body:\n%s", rec.Code, status, rec.Body.String())
	}
}
