package app

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"videotutorials/templates"
)

// Render renders component as the HTML response with status. The component
// is rendered into a buffer first, so a failing template produces a clean 500
// page instead of half a page followed by an error.
func Render(c echo.Context, status int, component templ.Component) error {
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledPage {
			buf.Reset()
			renderBuffers.Put(buf)
		}
	}()
	if err := component.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("app: rendering page: %w", err)
	}
	// Pages carry per-session data (CSRF token, user email): shared caches
	// must not store them, and browsers must revalidate. A handler that
	// knows better sets Cache-Control itself before calling Render.
	return writeHTML(c, status, buf.Bytes(), nil)
}

// PageFor returns the layout's view model for the current request: title,
// path, signed-in user (with email and admin flag from Deps.Identify), a CSRF
// token for its forms and the trace id.
func PageFor(c echo.Context, title string) templates.Page {
	p := templates.Page{
		Title:     title,
		Path:      c.Request().URL.Path,
		CSRFToken: CSRFToken(c),
		TraceID:   TraceID(c),
	}
	if u, ok := CurrentUser(c); ok {
		p.UserID, p.UserEmail, p.IsAdmin = u.ID, u.Email, u.IsAdmin
	}
	return p
}

// wantsHTML tells page requests (browsers, curl) from API and event-stream
// clients, which get plain-text errors instead of an HTML page.
func wantsHTML(c echo.Context) bool {
	accept := c.Request().Header.Get(echo.HeaderAccept)
	if accept == "" || strings.Contains(accept, "text/html") {
		return true
	}
	return !strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/event-stream")
}

// serviceUnavailableRetryAfter is the Retry-After of a 503: the database was out of reach, and a
// restart or fail-over takes seconds.
const serviceUnavailableRetryAfter = "5"

// handleError is Echo's HTTPErrorHandler: the one place where errors become
// responses. It logs server errors with the trace id (and the stack for
// panics) and renders the friendly page for the status.
func (s *Server) handleError(err error, c echo.Context) {
	status, msg := s.classify(c, err)
	log := Logger(c)
	if status >= 500 {
		attrs := []any{"status", status, "error", err.Error()}
		if rs := requestOf(c); rs != nil && rs.deadline.passed() {
			// The error is the cancelled context; say what cancelled it.
			attrs = append(attrs, "cause", fmt.Sprintf("no answer within the request deadline (REQUEST_TIMEOUT %s)", s.timeouts.Request))
		}
		var p *panicError
		if errors.As(err, &p) {
			attrs = append(attrs, "stack", string(p.stack))
		}
		log.Error("request failed", attrs...)
	}
	if status == statusClientClosedRequest || c.Response().Committed || c.Request().Context().Err() != nil {
		// Nobody to answer (the client left, perhaps while the handler was
		// refusing its upload: the page's look-ups would only fail on the
		// cancelled context), or the answer is already under way (a stream
		// that failed midway); the log line above and the request log suffice.
		return
	}

	if status == http.StatusNotFound {
		if to, ok := s.withoutTrailingSlash(c, err); ok {
			if err := c.Redirect(http.StatusMovedPermanently, to); err != nil {
				log.Debug("redirect not sent", "error", err)
			}
			return
		}
	}

	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", serviceUnavailableRetryAfter)
	}
	if status == http.StatusRequestEntityTooLarge {
		// We did not read the whole body; don't let the client reuse a
		// connection that still has the rest of it in flight.
		h.Set(echo.HeaderConnection, "close")
	}
	if !wantsHTML(c) {
		text := msg
		if text == "" || status >= 500 {
			text = templates.ErrorInfo{Status: status}.Lead()
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.String(status, text)
		}
	} else {
		page := PageFor(c, templates.ErrorInfo{Status: status}.Heading())
		err = Render(c, status, templates.ErrorPage(page, templates.ErrorInfo{Status: status, Message: msg}))
	}
	if err != nil {
		log.LogAttrs(c.Request().Context(), slog.LevelError, "rendering error page failed", slog.String("error", err.Error()))
		if !c.Response().Committed {
			_ = c.String(status, http.StatusText(status))
		}
	}
}
