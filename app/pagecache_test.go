package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/templates"
)

// formPage is a page in the layout with a form carrying the token, as the home page has.
func formPage(p templates.Page) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		children := templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
			if _, err := io.WriteString(w, `<h1>Cached &amp; shared</h1><form method="post" action="/t/form">`); err != nil {
				return err
			}
			if err := templates.CSRFField(p.CSRFToken).Render(ctx, w); err != nil {
				return err
			}
			_, err := io.WriteString(w, `</form>`)
			return err
		})
		return templates.Layout(p).Render(templ.WithChildren(ctx, children), w)
	})
}

// anonRoutes serve /t/anon from a page compiled once, and render it per request for signed-in
// visitors, as the home page does.
func anonRoutes(t *testing.T) app.ApplicationFunc {
	var once sync.Once
	var page *app.AnonymousPage
	return func(r app.Router) {
		testRoutes(r)
		r.GET("/t/anon", func(c echo.Context) error {
			once.Do(func() {
				var err error
				if page, err = app.CompileAnonymousPage("Anon", "/t/anon", formPage); err != nil {
					t.Error(err)
				}
			})
			if served, err := app.RenderAnonymous(c, http.StatusOK, page); served || err != nil {
				return err
			}
			return app.Render(c, http.StatusOK, formPage(app.PageFor(c, "Anon")))
		})
	}
}

var tokenField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func TestAnonymousPageIsThePageRenderedForTheRequest(t *testing.T) {
	h := newHarness(t, []app.Application{anonRoutes(t)})
	seenTokens, seenTraces := map[string]bool{}, map[string]bool{}
	for range 3 {
		rec := h.get("/t/anon") // a new visitor each time
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		got := body(rec)
		m := tokenField.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("no token:\n%s", got)
		}
		token, trace := m[1], rec.Header().Get(app.HeaderTraceID)
		if seenTokens[token] || seenTraces[trace] {
			t.Fatalf("token %q or trace id %q served twice", token, trace)
		}
		seenTokens[token], seenTraces[trace] = true, true
		var want bytes.Buffer
		p := templates.Page{Title: "Anon", Path: "/t/anon", CSRFToken: token, TraceID: trace}
		if err := formPage(p).Render(context.Background(), &want); err != nil {
			t.Fatal(err)
		}
		if got != want.String() {
			t.Fatalf("served:\n%s\nrendered for the request:\n%s", got, want.String())
		}
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(got)) {
			t.Errorf("Content-Length %q for %d bytes", cl, len(got))
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "private, no-cache" {
			t.Errorf("Cache-Control %q", cc)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q", ct)
		}
	}
}

// TestAnonymousPageTokenBelongsToItsVisitor: each visitor's token works with their own session
// only, so a page served from the cache hands nobody a usable token of someone else.
func TestAnonymousPageTokenBelongsToItsVisitor(t *testing.T) {
	h := newHarness(t, []app.Application{anonRoutes(t)})
	visit := func() (*http.Cookie, string) {
		rec := h.get("/t/anon")
		return sessionCookie(t, rec), tokenField.FindStringSubmatch(body(rec))[1]
	}
	cookieA, tokenA := visit()
	cookieB, tokenB := visit()
	if rec := postForm(h, "/t/form", url.Values{"_csrf": {tokenA}}, cookieA); rec.Code != http.StatusOK {
		t.Fatalf("own token: status %d", rec.Code)
	}
	if rec := postForm(h, "/t/form", url.Values{"_csrf": {tokenA}}, cookieB); rec.Code != http.StatusForbidden {
		t.Fatalf("another visitor's token: status %d", rec.Code)
	}
	// A returning visitor keeps the session (no new cookie) and gets a fresh token for it.
	rec := h.get("/t/anon", cookieB)
	if n := len(rec.Header().Values("Set-Cookie")); n != 0 {
		t.Errorf("session cookie rewritten for a returning visitor")
	}
	again := tokenField.FindStringSubmatch(body(rec))[1]
	if again == tokenB {
		t.Error("token not masked anew")
	}
	if rec := postForm(h, "/t/form", url.Values{"_csrf": {again}}, cookieB); rec.Code != http.StatusOK {
		t.Fatalf("returning visitor's token: status %d", rec.Code)
	}
}

// TestSignedInVisitorsGetTheirOwnPage: the cached page is for anonymous visitors only; a signed-in
// visitor's header (email, log-out form) is rendered for them, and never reaches anyone else.
func TestSignedInVisitorsGetTheirOwnPage(t *testing.T) {
	h := newHarness(t, []app.Application{anonRoutes(t)}, func(d *app.Deps) {
		d.Identify = func(ctx context.Context, userID string) (app.Identity, error) {
			return app.Identity{Email: "someone@example.com"}, nil
		}
	})
	before := body(h.get("/t/anon"))
	user := sessionCookie(t, h.get("/t/sign-in"))
	page := body(h.get("/t/anon", user))
	if !strings.Contains(page, "someone@example.com") || !strings.Contains(page, `action="/auth/log-out"`) {
		t.Fatalf("signed-in page without the user's header:\n%s", page)
	}
	after := body(h.get("/t/anon"))
	for _, p := range []string{before, after} {
		if strings.Contains(p, "someone@example.com") || strings.Contains(p, "/auth/log-out") || !strings.Contains(p, `href="/auth/log-in"`) {
			t.Fatalf("anonymous page shows a signed-in header:\n%s", p)
		}
	}
}

// TestCompileRefusesAlteredPlaceholders: a page that does anything to the token but print it (here
// escape it for a URL, cut it, change its case) cannot be served from the cache.
func TestCompileRefusesAlteredPlaceholders(t *testing.T) {
	for name, alter := range map[string]func(string) string{
		"escaped": func(s string) string { return url.QueryEscape("?" + s) },
		"cut":     func(s string) string { return s[:len(s)-3] },
		"upper":   strings.ToUpper,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := app.CompileAnonymousPage("x", "/x", func(p templates.Page) templ.Component {
				return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
					_, err := io.WriteString(w, `<a href="/next?t=`+alter(p.CSRFToken)+`">next</a>`)
					return err
				})
			})
			if err == nil {
				t.Fatal("compiled")
			}
		})
	}
	// Printed as is, the token and the trace id are holes; a page without any has none.
	for _, page := range []string{"<p>{token} {trace}</p>", "<p>nothing per request</p>"} {
		if _, err := app.CompileAnonymousPage("x", "/x", func(p templates.Page) templ.Component {
			return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
				_, err := io.WriteString(w, strings.NewReplacer("{token}", p.CSRFToken, "{trace}", p.TraceID).Replace(page))
				return err
			})
		}); err != nil {
			t.Errorf("%s: %v", page, err)
		}
	}
}

// TestAnonymousPageOnlyForItsPath: a page compiled for one path is not served on another (the
// navigation marks the current path).
func TestAnonymousPageOnlyForItsPath(t *testing.T) {
	page, err := app.CompileAnonymousPage("Anon", "/elsewhere", formPage)
	if err != nil {
		t.Fatal(err)
	}
	served := true
	h := newHarness(t, []app.Application{app.ApplicationFunc(func(r app.Router) {
		r.GET("/t/other", func(c echo.Context) error {
			var err error
			served, err = app.RenderAnonymous(c, http.StatusOK, page)
			if served || err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		})
	})})
	if rec := h.get("/t/other"); served || rec.Code != http.StatusNoContent {
		t.Fatalf("served on another path: %d", rec.Code)
	}
}
