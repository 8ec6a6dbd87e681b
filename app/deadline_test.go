package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"videotutorials/app"
)

// waitFor is a handler's wait for something that does not come (a database that does not answer):
// it returns the context's error as a query would, or "done" once d has passed.
func waitFor(c echo.Context, d time.Duration) error {
	ctx := c.Request().Context()
	select {
	case <-ctx.Done():
		return fmt.Errorf("query: %w", ctx.Err())
	case <-time.After(d):
		return c.String(http.StatusOK, "done")
	}
}

func deadlineRoutes(r app.Router) {
	r.GET("/t/hang", func(c echo.Context) error { return waitFor(c, time.Minute) })
	r.GET("/t/slow", func(c echo.Context) error { return waitFor(c, 300*time.Millisecond) })
	r.GET("/t/lifted", func(c echo.Context) error {
		app.LiftRequestDeadline(c)
		return waitFor(c, 300*time.Millisecond)
	})
	r.POST("/t/upload", func(c echo.Context) error { return waitFor(c, 300*time.Millisecond) },
		app.BodyLimit(1<<20, time.Second))
}

func deadlineHarness(t *testing.T, d time.Duration) *harness {
	return newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), app.ApplicationFunc(deadlineRoutes)}, func(deps *app.Deps) {
		deps.Timeouts.Request = d
	})
}

func logStatus(t *testing.T, h *harness, path string) any {
	t.Helper()
	for _, r := range h.logs.records(t) {
		if r["msg"] == "request" && r["path"] == path {
			return r["status"]
		}
	}
	t.Fatalf("no request log line for %s", path)
	return nil
}

// A handler still waiting when the request deadline passes is given up on: the answer is the 503
// page with Retry-After (the database did not answer; try again), not a 500 and not a wait for as
// long as the client waits.
func TestRequestDeadlineAnswers503WithRetryAfter(t *testing.T) {
	h := deadlineHarness(t, 50*time.Millisecond)
	rec := h.get("/t/hang")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if ra := rec.Header().Get("Retry-After"); ra == "" {
		t.Error("no Retry-After on the 503")
	}
	if b := body(rec); !strings.Contains(b, "Temporarily unavailable") || strings.Contains(b, "query:") {
		t.Errorf("503 page: %q", b)
	}
	if got := logStatus(t, h, "/t/hang"); got != float64(http.StatusServiceUnavailable) {
		t.Errorf("logged status %v", got)
	}
	var cause any
	for _, r := range h.logs.records(t) {
		if r["msg"] == "request failed" {
			cause = r["cause"]
		}
	}
	if c, _ := cause.(string); !strings.Contains(c, "request deadline") {
		t.Errorf("the failure's log line does not say the deadline passed: cause %v", cause)
	}

	// The same for a client that does not ask for HTML.
	req := httptest.NewRequest(http.MethodGet, "/t/hang", nil)
	rec = h.do(req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("plain client: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// A client that leaves before the deadline is still a 499 in the log, not a 503.
func TestRequestDeadlineDoesNotHideAClientThatLeft(t *testing.T) {
	h := deadlineHarness(t, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodGet, "/t/hang", nil).WithContext(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	h.do(req)
	if got := logStatus(t, h, "/t/hang"); got != float64(499) {
		t.Fatalf("logged status %v, want 499", got)
	}
}

// Handlers within the deadline, a negative deadline (none), a lifted deadline and an upload's
// BodyLimit (which moves the deadline by the time it gives the body) all let the handler finish.
func TestRequestDeadlineLeavesWhatFinishesInTimeAlone(t *testing.T) {
	h := deadlineHarness(t, 2*time.Second)
	if rec := h.get("/t/slow"); rec.Code != http.StatusOK {
		t.Fatalf("within the deadline: %d", rec.Code)
	}
	h = deadlineHarness(t, -1)
	if rec := h.get("/t/slow"); rec.Code != http.StatusOK {
		t.Fatalf("without a deadline: %d", rec.Code)
	}
	h = deadlineHarness(t, 50*time.Millisecond)
	if rec := h.get("/t/slow"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("past the deadline: %d, want 503", rec.Code)
	}
	if rec := h.get("/t/lifted"); rec.Code != http.StatusOK {
		t.Fatalf("lifted deadline: %d", rec.Code)
	}
	tok := h.get("/t/token")
	req := httptest.NewRequest(http.MethodPost, "/t/upload", strings.NewReader("x"))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(echo.HeaderXCSRFToken, body(tok))
	req.AddCookie(sessionCookie(t, tok))
	rec := h.do(req)
	if rec.Code != http.StatusOK {
		t.Fatalf("upload route with BodyLimit: %d %q", rec.Code, body(rec))
	}
}

// The error page of a request whose deadline passed is rendered for a signed-in user too, whose
// details (Deps.Identify) come from the same database that did not answer. That lookup must not wait
// for the database any longer than the page may: the answer is still a prompt 503, not a request
// that hangs (on a context nothing cancels, not even the client leaving) for as long as the database
// stalls.
func TestRequestDeadlinePageDoesNotWaitForAStalledIdentityLookup(t *testing.T) {
	stalled := make(chan struct{})
	t.Cleanup(func() { close(stalled) })
	h := newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), app.ApplicationFunc(deadlineRoutes)}, func(deps *app.Deps) {
		deps.Timeouts.Request = 50 * time.Millisecond
		deps.Identify = func(ctx context.Context, userID string) (app.Identity, error) {
			select { // a query on a database that does not answer
			case <-ctx.Done():
				return app.Identity{}, ctx.Err()
			case <-stalled:
				return app.Identity{}, nil
			}
		}
	})
	cookie := sessionCookie(t, h.get("/t/sign-in"))
	answered := make(chan *httptest.ResponseRecorder, 1)
	go func() { answered <- h.get("/t/hang", cookie) }()
	select {
	case rec := <-answered:
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer: the error page waits for the identity lookup on the stalled database")
	}
}
