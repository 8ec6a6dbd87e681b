package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/apptest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the JSON log records.
func (b *lockedBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

type harness struct {
	t     *testing.T
	srv   *app.Server
	logs  *lockedBuffer
	clock *apptest.Clock
}

func newHarness(t *testing.T, apps []app.Application, modify ...func(*app.Deps)) *harness {
	t.Helper()
	h := &harness{t: t, logs: &lockedBuffer{}, clock: apptest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}
	deps := app.Deps{
		Logger:        slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SessionSecret: testSecret,
		Now:           h.clock.Now,
	}
	for _, m := range modify {
		m(&deps)
	}
	h.srv = app.New(deps)
	h.srv.Mount(apps...)
	return h
}

// do serves req and returns the recorded response.
func (h *harness) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.srv.Echo().ServeHTTP(rec, req)
	return rec
}

func (h *harness) get(path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return h.do(req)
}

func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == app.SessionCookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in response; Set-Cookie: %q", app.SessionCookieName, rec.Header().Values("Set-Cookie"))
	return nil
}

func body(rec *httptest.ResponseRecorder) string {
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

const testUserID = "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11"

// testRoutes are the probes the tests use, mounted like a real application.
func testRoutes(r app.Router) {
	r.GET("/t/trace", func(c echo.Context) error {
		return c.String(http.StatusOK, app.TraceID(c)+"|"+app.TraceIDFrom(c.Request().Context()))
	})
	r.GET("/t/panic", func(c echo.Context) error {
		panic("boom: secret internal detail")
	})
	r.GET("/t/token", func(c echo.Context) error {
		return c.String(http.StatusOK, app.CSRFToken(c))
	})
	r.POST("/t/form", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok "+c.FormValue("name")+" user="+app.UserIDFrom(c.Request().Context()))
	})
	r.DELETE("/t/form", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	r.GET("/t/sign-in", func(c echo.Context) error {
		if err := app.SignIn(c, testUserID); err != nil {
			return err
		}
		return c.String(http.StatusOK, app.UserIDFrom(c.Request().Context()))
	})
	r.GET("/t/sign-out", func(c echo.Context) error {
		if err := app.SignOut(c); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	r.GET("/t/session-ref", func(c echo.Context) error { return c.String(http.StatusOK, app.SessionRef(c)) })
	r.GET("/t/whoami", func(c echo.Context) error {
		id, ok := app.CurrentUserID(c)
		if !ok {
			return c.String(http.StatusOK, "anonymous")
		}
		return c.String(http.StatusOK, id)
	})
	r.GET("/t/page", func(c echo.Context) error {
		return app.Render(c, http.StatusOK, pageWith(app.PageFor(c, "Probe")))
	})
	private := r.Group("/t/private", app.RequireLogin)
	private.GET("/area", func(c echo.Context) error { return c.String(http.StatusOK, "secret") })
	private.POST("/area", func(c echo.Context) error { return c.String(http.StatusOK, "posted") })
	private.GET("/read-only", func(c echo.Context) error { return c.String(http.StatusOK, "read") })
	r.GET("/t/admin", func(c echo.Context) error { return c.String(http.StatusOK, "admin") }, app.RequireAdmin)
	r.GET("/t/bad", func(c echo.Context) error { return app.BadRequest("That video id is not a UUID.") })
	r.GET("/t/missing", func(c echo.Context) error { return app.NotFound("No video with that id.") })
	r.GET("/t/sentinel", func(c echo.Context) error { return errWrapped })
	r.GET("/t/custom", func(c echo.Context) error { return errCustomWrapped })
	r.GET("/t/unavailable", func(c echo.Context) error { return fmt.Errorf("loading: %w", errUnavailable) })
	r.GET("/t/fail", func(c echo.Context) error { return errInternal })
}

type (
	echoContext = echo.Context
	echoHandler = echo.HandlerFunc
)
