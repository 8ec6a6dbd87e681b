package authenticate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

// The tests run the application in the real web shell (sessions, CSRF, body limits, error pages)
// against a real PostgreSQL: a throw-away server for this test binary, or TEST_DATABASE_URL.

var dbURL string

func TestMain(m *testing.M) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		os.Exit(1)
	}
	dbURL = url
	pool, err := pgxpool.New(context.Background(), url)
	if err == nil {
		if err = migrations.MessageStore.Up(context.Background(), pool, nil); err == nil {
			err = migrations.ViewData.Up(context.Background(), pool, nil)
		}
		pool.Close()
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func newStore(t testing.TB) *messagestore.Store {
	t.Helper()
	return messagestore.New(newPool(t), messagestore.Options{Logger: quiet})
}

// newServer mounts apps on the web shell, plus probe routes: GET /t/sign-in/:id signs that user in,
// GET /t/token is a page with a CSRF token, GET /t/whoami tells who is signed in.
func newServer(t testing.TB, deps app.Deps, apps ...app.Application) *app.Server {
	t.Helper()
	if deps.Logger == nil {
		deps.Logger = quiet
	}
	deps.SessionSecret = testSecret
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

// browser is one visitor: it keeps the session cookie between requests and comes from one address.
type browser struct {
	t          testing.TB
	srv        *app.Server
	cookies    map[string]*http.Cookie
	remoteAddr string
}

func newBrowser(t testing.TB, srv *app.Server) *browser {
	return &browser{t: t, srv: srv, cookies: map[string]*http.Cookie{}, remoteAddr: "192.0.2.1:1234"}
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	req.RemoteAddr = b.remoteAddr
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html")
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.srv.Echo().ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	return rec
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post submits a form as is (add the token with csrf or withToken).
func (b *browser) post(path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf loads page and returns the CSRF token of its first form.
func (b *browser) csrf(page string) string {
	b.t.Helper()
	rec := b.get(page)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.t.Fatalf("no CSRF token on %s (status %d)", page, rec.Code)
	}
	return m[1]
}

// submit posts form to path with a token from page, as a browser submitting a form on page would.
func (b *browser) submit(page, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", b.csrf(page))
	return b.post(path, form)
}

func (b *browser) whoami() string {
	b.t.Helper()
	return b.get("/t/whoami").Body.String()
}

func readStream(t testing.TB, s *messagestore.Store, stream string) []messagestore.Message {
	t.Helper()
	msgs, err := s.ReadStream(context.Background(), stream, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body:\n%s", rec.Code, status, rec.Body.String())
	}
}
