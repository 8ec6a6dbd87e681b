package watch_test

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
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/devdb"
	"videotutorials/migrations"
)

// The tests run the portal in the real web shell (sessions, CSRF, body limits, error pages) against a
// real PostgreSQL: a throw-away server for this test binary, or TEST_DATABASE_URL. View rows are
// written with SQL as the aggregators would leave them.

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

var ctx = context.Background()

func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newServer mounts apps on the web shell, plus GET /t/sign-in/:id, which signs that user in.
func newServer(t testing.TB, apps ...app.Application) *app.Server {
	t.Helper()
	srv := app.New(app.Deps{Logger: quiet, SessionSecret: testSecret})
	srv.Mount(apps...)
	srv.Mount(app.ApplicationFunc(func(r app.Router) {
		r.GET("/t/sign-in/:id", func(c echo.Context) error {
			if err := app.SignIn(c, c.Param("id")); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		})
	}))
	return srv
}

// browser is one visitor: it keeps the session cookie between requests.
type browser struct {
	t       testing.TB
	srv     *app.Server
	cookies map[string]*http.Cookie
}

func newBrowser(t testing.TB, srv *app.Server) *browser {
	return &browser{t: t, srv: srv, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	req.RemoteAddr = "192.0.2.1:1234"
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

func (b *browser) signIn(userID string) {
	b.t.Helper()
	if rec := b.get("/t/sign-in/" + userID); rec.Code != http.StatusNoContent {
		b.t.Fatalf("sign-in: status %d", rec.Code)
	}
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

// submit posts a form from page to path with the page's token.
func (b *browser) submit(page, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	form.Set("_csrf", b.csrf(page))
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d; body:\n%s", rec.Code, status, rec.Body.String())
	}
}

// videoRow is a creators_portal_videos row as the creators-videos aggregator leaves it.
type videoRow struct {
	id, owner, name, description, status, reason, transcoded, poster string
	views                                                            int64
}

func insertVideo(t testing.TB, pool *pgxpool.Pool, v videoRow) {
	t.Helper()
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	if _, err := pool.Exec(ctx, `INSERT INTO creators_portal_videos
		(id, owner_id, name, description, status, failure_reason, transcoded_uri, poster_uri, views, uploaded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		v.id, null(v.owner), v.name, v.description, v.status, null(v.reason), null(v.transcoded), null(v.poster), v.views,
		time.Now()); err != nil {
		t.Fatal(err)
	}
}
