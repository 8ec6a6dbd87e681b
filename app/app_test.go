package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"videotutorials/app"
	"videotutorials/templates"
)

var (
	errCustom        = errors.New("custom sentinel")
	errUnavailable   = errors.New("database unreachable")
	errCustomWrapped = fmt.Errorf("loading: %w", errCustom)
	errWrapped       = fmt.Errorf("video 42: %w", app.ErrNotFound)
	errInternal      = errors.New("pq: connection refused to 10.0.0.7 (internal detail)")
)

func pageWith(p templates.Page) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return templates.Layout(p).Render(templ.WithChildren(ctx, templ.Raw("<h1>Probe page</h1>")), w)
	})
}

func probe(t *testing.T, modify ...func(*app.Deps)) *harness {
	return newHarness(t, []app.Application{app.ApplicationFunc(testRoutes)}, modify...)
}

func TestTraceIDIsFreshPerRequestAndInContext(t *testing.T) {
	h := probe(t)
	seen := map[string]bool{}
	for range 3 {
		rec := h.get("/t/trace")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		fromEcho, fromCtx, _ := strings.Cut(body(rec), "|")
		if id, err := uuid.Parse(fromEcho); err != nil {
			t.Fatalf("trace id %q is not a UUID", fromEcho)
		} else if id.Version() != 7 {
			t.Fatalf("trace id %q is version %d; want 7 (time-ordered, for the admin trace index)", fromEcho, id.Version())
		}
		if fromEcho != fromCtx || rec.Header().Get(app.HeaderTraceID) != fromEcho {
			t.Fatalf("TraceID %q, TraceIDFrom %q, header %q differ", fromEcho, fromCtx, rec.Header().Get(app.HeaderTraceID))
		}
		if seen[fromEcho] {
			t.Fatalf("trace id %q reused", fromEcho)
		}
		seen[fromEcho] = true
	}
	// The request log line carries the trace id, route and status.
	var found bool
	for _, r := range h.logs.records(t) {
		if r["msg"] == "request" && seen[fmt.Sprint(r["traceId"])] {
			found = true
			if r["route"] != "/t/trace" || r["method"] != "GET" || r["status"] != float64(200) || r["latency"] == nil {
				t.Errorf("request log incomplete: %v", r)
			}
		}
	}
	if !found {
		t.Fatalf("no request log with a trace id; logs:\n%s", h.logs)
	}
}

func TestPanicRendersFriendly500AndIsLogged(t *testing.T) {
	h := probe(t)
	rec := h.get("/t/panic")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	page := body(rec)
	for _, leak := range []string{"boom", "secret internal detail", "goroutine", ".go:"} {
		if strings.Contains(page, leak) {
			t.Errorf("500 page leaks %q", leak)
		}
	}
	traceID := rec.Header().Get(app.HeaderTraceID)
	if !strings.Contains(page, "Something went wrong") || !strings.Contains(page, traceID) {
		t.Errorf("500 page lacks the friendly text or the trace reference:\n%s", page)
	}
	var logged bool
	for _, r := range h.logs.records(t) {
		if r["msg"] == "request failed" && r["traceId"] == traceID {
			logged = strings.Contains(fmt.Sprint(r["error"]), "boom") && strings.Contains(fmt.Sprint(r["stack"]), "goroutine")
		}
	}
	if !logged {
		t.Fatalf("panic not logged with trace id and stack:\n%s", h.logs)
	}
	// The server keeps serving.
	if rec := h.get("/t/trace"); rec.Code != http.StatusOK {
		t.Fatalf("after panic: status %d", rec.Code)
	}
}

// MapErrorFunc maps a kind of error by a predicate; a 503 tells the client when to try again.
func TestErrorsMappedByAPredicate(t *testing.T) {
	h := probe(t, func(d *app.Deps) {})
	h.srv.MapErrorFunc(func(err error) bool { return errors.Is(err, errUnavailable) }, http.StatusServiceUnavailable)
	rec := h.get("/t/unavailable")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After 5", rec.Code, rec.Header().Get("Retry-After"))
	}
	if page := body(rec); !strings.Contains(page, "<nav") || strings.Contains(page, "database unreachable") {
		t.Errorf("want the friendly page without the internal error:\n%s", page)
	}
	if rec := h.get("/t/fail"); rec.Code != http.StatusInternalServerError || rec.Header().Get("Retry-After") != "" {
		t.Errorf("another error: %d, Retry-After %q; want 500 without it", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestErrorVocabulary(t *testing.T) {
	h := probe(t, func(d *app.Deps) {})
	h.srv.MapError(errCustom, http.StatusConflict)
	cases := []struct {
		path, wantText string
		status         int
	}{
		{"/no/such/route", "Page not found", http.StatusNotFound},
		{"/t/missing", "No video with that id.", http.StatusNotFound},
		{"/t/sentinel", "Page not found", http.StatusNotFound},
		{"/t/bad", "That video id is not a UUID.", http.StatusBadRequest},
		{"/t/custom", "409", http.StatusConflict},
		{"/t/fail", "Something went wrong", http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			rec := h.get(tc.path)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			page := body(rec)
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(page, "<nav") {
				t.Fatalf("not an HTML page in the layout: %q", page)
			}
			if !strings.Contains(page, tc.wantText) {
				t.Errorf("page lacks %q", tc.wantText)
			}
			if strings.Contains(page, "internal detail") {
				t.Errorf("page leaks the internal error")
			}
		})
	}
	t.Run("405", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPut, "/t/trace", nil)
		req.Header.Set(app.CSRFHeader, "x") // not reached: routing fails first
		if rec := h.do(req); rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("JSON clients get text", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/t/missing", nil)
		req.Header.Set("Accept", "application/json")
		rec := h.do(req)
		if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		if got := body(rec); got != "No video with that id." {
			t.Fatalf("body %q", got)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	h := probe(t)
	for _, path := range []string{"/t/page", "/no/such/route", templates.AssetPath("app.css")} {
		rec := h.get(path)
		hdr := rec.Header()
		csp := hdr.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe code: %q", path, csp)
		}
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "strict-origin-when-cross-origin",
		} {
			if hdr.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, hdr.Get(k), v)
			}
		}
	}
}

func TestLayoutPageIsInlineFree(t *testing.T) {
	h := probe(t)
	rec := h.get("/t/page")
	page := body(rec)
	if regexp.MustCompile(`\sstyle=|\son[a-z]+=|<style`).MatchString(page) {
		t.Errorf("page has inline style or handlers:\n%s", page)
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(m, "src=") {
			t.Errorf("inline script %q", m)
		}
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("page Cache-Control %q", cc)
	}
	if !strings.Contains(page, "<title>Probe · Video Tutorials</title>") || !strings.Contains(page, `href="/auth/log-in"`) {
		t.Errorf("layout lacks title or log-in link:\n%s", page)
	}
}

// csrfSession returns a session cookie and a CSRF token issued for it.
func csrfSession(t *testing.T, h *harness) (*http.Cookie, string) {
	t.Helper()
	rec := h.get("/t/token")
	return sessionCookie(t, rec), body(rec)
}

func postForm(h *harness, path string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return h.do(req)
}

func TestCSRF(t *testing.T) {
	h := probe(t)
	cookieA, tokenA := csrfSession(t, h)
	cookieB, tokenB := csrfSession(t, h)
	if tokenA == "" || tokenA == tokenB {
		t.Fatalf("tokens %q and %q", tokenA, tokenB)
	}

	t.Run("no token", func(t *testing.T) {
		rec := postForm(h, "/t/form", url.Values{"name": {"x"}}, cookieA)
		if rec.Code != http.StatusForbidden || !strings.Contains(body(rec), "reload the page") {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("no session", func(t *testing.T) {
		if rec := postForm(h, "/t/form", url.Values{"_csrf": {tokenA}}); rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("valid form token", func(t *testing.T) {
		rec := postForm(h, "/t/form", url.Values{"_csrf": {tokenA}, "name": {"alice"}}, cookieA)
		if rec.Code != http.StatusOK || !strings.HasPrefix(body(rec), "ok alice") {
			t.Fatalf("status %d body %q", rec.Code, body(rec))
		}
	})
	t.Run("a second token of the same session also works", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/t/token", nil)
		req.AddCookie(cookieA)
		again := body(h.do(req))
		if again == tokenA {
			t.Fatal("tokens are not masked per page")
		}
		if rec := postForm(h, "/t/form", url.Values{"_csrf": {again}}, cookieA); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("token of another session", func(t *testing.T) {
		if rec := postForm(h, "/t/form", url.Values{"_csrf": {tokenB}}, cookieA); rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("garbage token", func(t *testing.T) {
		if rec := postForm(h, "/t/form", url.Values{"_csrf": {"AAAA" + tokenA[4:]}}, cookieA); rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("header token", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodDelete, "/t/form", nil)
		req.AddCookie(cookieB)
		req.Header.Set(app.CSRFHeader, tokenB)
		if rec := h.do(req); rec.Code != http.StatusNoContent {
			t.Fatalf("status %d", rec.Code)
		}
		req = httptest.NewRequest(http.MethodDelete, "/t/form", nil)
		req.AddCookie(cookieB)
		if rec := h.do(req); rec.Code != http.StatusForbidden {
			t.Fatalf("DELETE without token: status %d", rec.Code)
		}
	})
	t.Run("token dies with sign-in", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/t/sign-in", nil)
		req.AddCookie(cookieA)
		signedIn := sessionCookie(t, h.do(req))
		if rec := postForm(h, "/t/form", url.Values{"_csrf": {tokenA}}, signedIn); rec.Code != http.StatusForbidden {
			t.Fatalf("pre-login token accepted after login: status %d", rec.Code)
		}
	})
}

func multipartBody(t *testing.T, fields [][2]string, fileSize int) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if fileSize > 0 {
		fw, err := mw.CreateFormFile("video", "clip.mp4")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(bytes.Repeat([]byte("v"), fileSize))
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestMultipartCSRFAndBodyLimits(t *testing.T) {
	upload := app.ApplicationFunc(func(r app.Router) {
		// The upload streams the file: the body must arrive intact after the
		// CSRF check peeked at the first part.
		r.POST("/t/upload", func(c echoContext) error {
			mr, err := c.Request().MultipartReader()
			if err != nil {
				return err
			}
			var fields []string
			var size int64
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				n, err := io.Copy(io.Discard, p)
				if err != nil {
					return err
				}
				fields = append(fields, p.FormName())
				size += n
			}
			return c.String(http.StatusOK, fmt.Sprintf("%v %d", fields, size))
		}, app.BodyLimit(8<<20, time.Minute))
		r.POST("/t/small", func(c echoContext) error {
			return c.String(http.StatusOK, "small "+c.FormValue("name"))
		})
		r.POST("/t/params", func(c echoContext) error {
			// Unlike FormValue, FormParams and Bind report parse errors.
			params, err := c.FormParams()
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, "params "+params.Get("name"))
		})
	})
	h := newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), upload})
	cookie, token := csrfSession(t, h)

	post := func(path string, body io.Reader, contentType string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, body)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", "text/html")
		req.AddCookie(cookie)
		return h.do(req)
	}

	t.Run("upload over the default limit on a raised route", func(t *testing.T) {
		b, ct := multipartBody(t, [][2]string{{"_csrf", token}, {"title", "Hi"}}, 3<<20)
		rec := post("/t/upload", b, ct)
		if rec.Code != http.StatusOK || body(rec) != fmt.Sprintf("[_csrf title video] %d", len(token)+2+3<<20) {
			t.Fatalf("status %d body %q", rec.Code, body(rec))
		}
	})
	t.Run("upload over the raised limit", func(t *testing.T) {
		b, ct := multipartBody(t, [][2]string{{"_csrf", token}}, 9<<20)
		if rec := post("/t/upload", b, ct); rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("multipart token not first", func(t *testing.T) {
		b, ct := multipartBody(t, [][2]string{{"title", "Hi"}, {"_csrf", token}}, 10)
		if rec := post("/t/upload", b, ct); rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("multipart without token", func(t *testing.T) {
		b, ct := multipartBody(t, nil, 10)
		if rec := post("/t/upload", b, ct); rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("form over the default limit", func(t *testing.T) {
		form := url.Values{"_csrf": {token}, "name": {strings.Repeat("x", 2<<20)}}
		rec := post("/t/small", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(body(rec), "too large") {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("form over the limit without Content-Length", func(t *testing.T) {
		form := url.Values{"_csrf": {token}, "name": {strings.Repeat("x", 2<<20)}}
		req := httptest.NewRequest(http.MethodPost, "/t/small", io.MultiReader(strings.NewReader(form.Encode())))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		if rec := h.do(req); rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("multipart over the default limit on a normal route", func(t *testing.T) {
		b, ct := multipartBody(t, [][2]string{{"_csrf", token}, {"name", "n"}}, 2<<20)
		if rec := post("/t/params", b, ct); rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d body %q", rec.Code, body(rec))
		}
	})
	t.Run("small form passes", func(t *testing.T) {
		form := url.Values{"_csrf": {token}, "name": {"bob"}}
		rec := post("/t/small", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
		if rec.Code != http.StatusOK || body(rec) != "small bob" {
			t.Fatalf("status %d body %q", rec.Code, body(rec))
		}
	})
}

func TestSessionCookie(t *testing.T) {
	h := probe(t)
	rec := h.get("/t/sign-in")
	if rec.Code != http.StatusOK || body(rec) != testUserID {
		t.Fatalf("sign-in: status %d, UserIDFrom %q", rec.Code, body(rec))
	}
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
		t.Fatalf("%d Set-Cookie headers, want exactly one", n)
	}
	c := sessionCookie(t, rec)
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie attributes: %+v", c)
	}
	if c.MaxAge != int((7*24*time.Hour).Seconds()) || !c.Expires.Equal(h.clock.Now().Add(7*24*time.Hour)) {
		t.Errorf("cookie expiry: MaxAge %d Expires %v", c.MaxAge, c.Expires)
	}
	if got := body(h.get("/t/whoami", c)); got != testUserID {
		t.Fatalf("whoami = %q", got)
	}

	t.Run("secure over TLS", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/t/sign-in", nil)
		req.TLS = &tls.ConnectionState{}
		if c := sessionCookie(t, h.do(req)); !c.Secure {
			t.Error("cookie not Secure over TLS")
		}
	})
	t.Run("secure when configured", func(t *testing.T) {
		h := probe(t, func(d *app.Deps) { d.SecureCookies = true })
		if c := sessionCookie(t, h.get("/t/sign-in")); !c.Secure {
			t.Error("cookie not Secure with SecureCookies")
		}
	})
	t.Run("tampered", func(t *testing.T) {
		payload, sig, _ := strings.Cut(c.Value, ".")
		forged := strings.Replace(payload, payload[len(payload)-4:], "AAAA", 1) + "." + sig
		for _, v := range []string{forged, payload + ".", "garbage", "", "a.b.c", strings.Repeat("x", 5000), c.Value + "x"} {
			rec := h.get("/t/whoami", &http.Cookie{Name: app.SessionCookieName, Value: v})
			if rec.Code != http.StatusOK || body(rec) != "anonymous" {
				t.Errorf("cookie %.20q: status %d body %q", v, rec.Code, body(rec))
			}
		}
	})
	t.Run("signed with another secret", func(t *testing.T) {
		other := probe(t, func(d *app.Deps) { d.SessionSecret = bytes.Repeat([]byte("z"), 32) })
		foreign := sessionCookie(t, other.get("/t/sign-in"))
		if got := body(h.get("/t/whoami", foreign)); got != "anonymous" {
			t.Errorf("foreign cookie accepted: %q", got)
		}
	})
	t.Run("renewed while used", func(t *testing.T) {
		h := probe(t)
		c := sessionCookie(t, h.get("/t/sign-in"))
		h.clock.Advance(4 * 24 * time.Hour)
		rec := h.get("/t/whoami", c)
		renewed := sessionCookie(t, rec)
		if body(rec) != testUserID || !renewed.Expires.Equal(h.clock.Now().Add(7*24*time.Hour)) {
			t.Fatalf("not renewed: %q, expires %v", body(rec), renewed.Expires)
		}
		// Before half-time nothing is rewritten.
		if n := len(h.get("/t/whoami", renewed).Header().Values("Set-Cookie")); n != 0 {
			t.Errorf("cookie rewritten on every request")
		}
	})
	t.Run("expired", func(t *testing.T) {
		h := probe(t)
		c := sessionCookie(t, h.get("/t/sign-in"))
		h.clock.Advance(7*24*time.Hour + time.Second)
		rec := h.get("/t/whoami", c)
		if rec.Code != http.StatusOK || body(rec) != "anonymous" {
			t.Fatalf("expired cookie: status %d body %q", rec.Code, body(rec))
		}
		if del := sessionCookie(t, rec); del.MaxAge >= 0 {
			t.Errorf("stale cookie not deleted: %+v", del)
		}
	})
	t.Run("absolute limit", func(t *testing.T) {
		h := probe(t)
		c := sessionCookie(t, h.get("/t/sign-in"))
		for range 10 { // renewed every 4 days for 40 days
			h.clock.Advance(4 * 24 * time.Hour)
			rec := h.get("/t/whoami", c)
			if body(rec) == "anonymous" {
				return
			}
			for _, ck := range rec.Result().Cookies() {
				c = ck
			}
		}
		t.Fatal("session renewed beyond SessionMaxAge")
	})
	t.Run("sign out", func(t *testing.T) {
		rec := h.get("/t/sign-out", c)
		after := sessionCookie(t, rec)
		if got := body(h.get("/t/whoami", after)); got != "anonymous" {
			t.Fatalf("still signed in after sign-out: %q", got)
		}
	})
}

func TestRequireLogin(t *testing.T) {
	h := probe(t)
	rec := h.get("/t/private/area?tab=videos&x=1")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d", rec.Code)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Path != app.LoginPath || loc.Query().Get("next") != "/t/private/area?tab=videos&x=1" {
		t.Fatalf("Location %q", rec.Header().Get("Location"))
	}
	// Unknown pages under the protected prefix don't reveal anything either.
	if rec := h.get("/t/private/nope"); rec.Code != http.StatusSeeOther {
		t.Fatalf("unknown protected page: status %d", rec.Code)
	}
	// A POST goes to log-in without next.
	cookie, token := csrfSession(t, h)
	rec = postForm(h, "/t/private/area", url.Values{"_csrf": {token}}, cookie)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != app.LoginPath {
		t.Fatalf("POST: status %d Location %q", rec.Code, rec.Header().Get("Location"))
	}
	// Event streams and APIs get 401.
	req := httptest.NewRequest(http.MethodGet, "/t/private/area", nil)
	req.Header.Set("Accept", "text/event-stream")
	if rec := h.do(req); rec.Code != http.StatusUnauthorized {
		t.Fatalf("SSE: status %d", rec.Code)
	}
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	if rec := h.get("/t/private/area", signedIn); rec.Code != http.StatusOK || body(rec) != "secret" {
		t.Fatalf("signed in: status %d", rec.Code)
	}
	// Unknown routes outside the prefix are plain 404s, not log-in redirects.
	if rec := h.get("/elsewhere"); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown route: %d", rec.Code)
	}
}

func TestRequireAdminAndIdentity(t *testing.T) {
	admin := "0b8a2f9e-8a8e-4a3c-9d5e-8f0f6d1b2c3d"
	lookups := 0
	h := probe(t, func(d *app.Deps) {
		d.Identify = func(ctx context.Context, userID string) (app.Identity, error) {
			lookups++
			return app.Identity{Email: "user@example.com", IsAdmin: userID == admin}, nil
		}
	})
	if rec := h.get("/t/admin"); rec.Code != http.StatusSeeOther {
		t.Fatalf("anonymous: %d", rec.Code)
	}
	user := sessionCookie(t, h.get("/t/sign-in"))
	if rec := h.get("/t/admin", user); rec.Code != http.StatusForbidden {
		t.Fatalf("non-admin: %d", rec.Code)
	}
	page := body(h.get("/t/page", user))
	if !strings.Contains(page, "user@example.com") || !strings.Contains(page, `action="/auth/log-out"`) || strings.Contains(page, `href="/admin"`) {
		t.Fatalf("layout for a signed-in user:\n%s", page)
	}
	if !regexp.MustCompile(`<form[^>]*action="/auth/log-out"[^>]*>\s*<input type="hidden" name="_csrf" value="[A-Za-z0-9_-]{80,}"`).MatchString(page) {
		t.Errorf("log-out form lacks the CSRF field first:\n%s", page)
	}
	lookups = 0
	h.get("/t/page", user)
	if lookups != 1 {
		t.Errorf("Identify called %d times for one page", lookups)
	}
}

func TestRequireAdminLetsAdminsIn(t *testing.T) {
	h := probe(t, func(d *app.Deps) {
		d.Identify = func(ctx context.Context, userID string) (app.Identity, error) {
			return app.Identity{Email: "admin@example.com", IsAdmin: true}, nil
		}
	})
	c := sessionCookie(t, h.get("/t/sign-in"))
	if rec := h.get("/t/admin", c); rec.Code != http.StatusOK {
		t.Fatalf("admin: %d", rec.Code)
	}
	if page := body(h.get("/t/page", c)); !strings.Contains(page, `href="/admin"`) {
		t.Error("admin nav entry missing")
	}
}

func TestIsLocalPath(t *testing.T) {
	good := []string{"/", "/creators-portal/", "/creators-portal/videos/6f1c?x=1&y=%2F", "/a/b#frag", "/.//x"}
	bad := []string{
		"", "//evil.com", "///evil.com", "https://evil.com", "http:/evil.com", "/\\evil.com", "\\\\evil.com",
		"/\t/evil.com", "/\n/evil.com", " /x", "evil.com", "javascript:alert(1)", "/x\\y", "/x y",
		"/" + strings.Repeat("a", 3000), "//%09/evil.com", "/\r\nSet-Cookie:x=y",
	}
	for _, p := range good {
		if !app.IsLocalPath(p) {
			t.Errorf("IsLocalPath(%q) = false", p)
		}
	}
	for _, p := range bad {
		if app.IsLocalPath(p) {
			t.Errorf("IsLocalPath(%q) = true", p)
		}
		if got := app.SafeRedirect(p, "/"); got != "/" {
			t.Errorf("SafeRedirect(%q) = %q", p, got)
		}
	}
	if got := app.LoginURL("//evil.com"); got != app.LoginPath {
		t.Errorf("LoginURL(//evil.com) = %q", got)
	}
}

func TestStaticAssets(t *testing.T) {
	h := probe(t)
	for name, ctype := range map[string]string{
		"app.css":  "text/css; charset=utf-8",
		"live.js":  "text/javascript; charset=utf-8",
		"logo.svg": "image/svg+xml",
	} {
		path := templates.AssetPath(name)
		if !regexp.MustCompile(`^/static/[a-z]+\.[0-9a-f]{12}\.[a-z]+$`).MatchString(path) {
			t.Errorf("AssetPath(%q) = %q, not fingerprinted", name, path)
		}
		rec := h.get(path)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ctype {
			t.Errorf("%s: status %d, Content-Type %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
		etag := rec.Header().Get("ETag")
		// Unversioned names work but must be revalidated; ETags make that cheap.
		plain := h.get("/static/" + name)
		if plain.Code != http.StatusOK || !strings.Contains(plain.Header().Get("Cache-Control"), "no-cache") {
			t.Errorf("/static/%s: status %d, Cache-Control %q", name, plain.Code, plain.Header().Get("Cache-Control"))
		}
		req := httptest.NewRequest(http.MethodGet, "/static/"+name, nil)
		req.Header.Set("If-None-Match", etag)
		if rec := h.do(req); rec.Code != http.StatusNotModified {
			t.Errorf("conditional GET: status %d", rec.Code)
		}
	}
	for _, path := range []string{"/static/", "/static/nope.css", "/static/app.000000000000.js", "/static/../app.go"} {
		if rec := h.get(path); rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d", path, rec.Code)
		}
	}
}

func TestRouterRejectsRootMiddleware(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Group(\"\", middleware) did not panic")
		}
	}()
	probe(t).srv.Mount(app.ApplicationFunc(func(r app.Router) { r.Group("", app.RequireLogin) }))
}

func TestMetricsMiddlewareSeesFinalStatus(t *testing.T) {
	var statuses []int
	var routes []string
	h := probe(t, func(d *app.Deps) {
		d.Middleware = append(d.Middleware, func(next echoHandler) echoHandler {
			return func(c echoContext) error {
				err := next(c)
				statuses = append(statuses, c.Response().Status)
				routes = append(routes, c.Path())
				return err
			}
		})
	})
	h.get("/t/missing")
	h.get("/t/panic")
	h.get("/t/trace")
	if fmt.Sprint(statuses) != "[404 500 200]" || routes[2] != "/t/trace" {
		t.Fatalf("metrics saw %v %v", statuses, routes)
	}
}

func TestRenderFailureIsClean500(t *testing.T) {
	failing := templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		io.WriteString(w, "<p>half a page")
		return errors.New("template exploded")
	})
	h := newHarness(t, []app.Application{app.ApplicationFunc(func(r app.Router) {
		r.GET("/t/render", func(c echoContext) error { return app.Render(c, http.StatusOK, failing) })
	})})
	rec := h.get("/t/render")
	if rec.Code != http.StatusInternalServerError || strings.Contains(body(rec), "half a page") {
		t.Fatalf("status %d body %q", rec.Code, body(rec))
	}
}

// A path or query that is not text PostgreSQL can hold (invalid UTF-8, a NUL byte) is a 400 page for
// every route, before any handler passes it on to a query; real Unicode is fine.
func TestBytesPostgreSQLCannotHoldAreABadRequest(t *testing.T) {
	h := probe(t, func(d *app.Deps) {})
	for _, target := range []string{"/t/trace%00", "/t/tr%FFace", "/t/trace?x=a%00b", "/t/trace?x=%FF", "/t/trace?%FF=1",
		"/no/such/route%00"} {
		rec := h.get(target)
		if rec.Code != http.StatusBadRequest || !strings.Contains(body(rec), "not allowed") {
			t.Errorf("GET %s: status %d, want the 400 page:\n%s", target, rec.Code, body(rec))
		}
	}
	for _, target := range []string{"/t/trace", "/t/trace?x=%C3%A9t%C3%A9", "/t/trace?x=%E2%9C%93&y="} {
		if rec := h.get(target); rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", target, rec.Code)
		}
	}
}

// A path of a group asked with a method it does not have is a 405 with Allow, as elsewhere on the
// site, not the 404 of Echo's group catch-all; the group's middleware still comes first.
func TestGroupRoutesAnswerWrongMethodsWith405(t *testing.T) {
	h := probe(t)
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	tokenReq := httptest.NewRequest(http.MethodGet, "/t/token", nil)
	tokenReq.AddCookie(signedIn)
	token := body(h.do(tokenReq))
	wrong := func(method, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set(app.CSRFHeader, token)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		return h.do(req)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if rec := wrong(method, "/t/private/read-only", signedIn); rec.Code != http.StatusMethodNotAllowed ||
			rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s: status %d, Allow %q; want 405 with Allow: GET, HEAD, OPTIONS", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
	if rec := wrong(http.MethodDelete, "/t/private/area", signedIn); rec.Code != http.StatusMethodNotAllowed ||
		rec.Header().Get("Allow") != "GET, HEAD, POST, OPTIONS" {
		t.Errorf("DELETE on a GET and POST path: status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	// The routes themselves still answer.
	if rec := h.get("/t/private/read-only", signedIn); rec.Code != http.StatusOK || body(rec) != "read" {
		t.Errorf("GET: status %d", rec.Code)
	}
}

// HEAD is answered by the path's GET handler, headers only, on plain routes, group routes and
// static files alike; a path without GET is still a 405.
func TestHeadIsAnsweredLikeGet(t *testing.T) {
	h := probe(t)
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	head := func(path string, cookies ...*http.Cookie) *http.Response {
		t.Helper()
		srv := httptest.NewServer(h.srv.Echo())
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodHead, srv.URL+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	get := h.get("/t/page")
	res := head("/t/page")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != get.Header().Get("Content-Type") ||
		res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("HEAD /t/page: %d %v", res.StatusCode, res.Header)
	}
	if res := head("/t/private/read-only", signedIn); res.StatusCode != http.StatusOK {
		t.Errorf("HEAD on a group route: %d", res.StatusCode)
	}
	if res := head("/t/private/read-only"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("anonymous HEAD on a protected route: %d, want the log-in redirect", res.StatusCode)
	}
	if res := head("/t/form"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD on a POST-only path: %d, want 405", res.StatusCode)
	}
}

// /favicon.ico, which browsers ask for on their own, leads to the logo instead of a 404.
func TestFaviconLeadsToTheLogo(t *testing.T) {
	h := probe(t)
	rec := h.get("/favicon.ico")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != templates.AssetPath("logo.svg") {
		t.Fatalf("status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	if logo := h.get(rec.Header().Get("Location")); logo.Code != http.StatusOK || logo.Header().Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("logo: status %d, type %q", logo.Code, logo.Header().Get("Content-Type"))
	}
}

// A logged-out session's cookie is refused: at once in the process that logged it out, and in any
// process once SessionRevoked says so. A lookup that fails keeps the session; one that says "valid"
// is not asked again for a while.
func TestLoggedOutSessionsAreRefused(t *testing.T) {
	var mu sync.Mutex
	revoked := map[string]bool{}
	calls := 0
	var fail error
	h := probe(t, func(d *app.Deps) {
		d.SessionRevoked = func(_ context.Context, ref string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return revoked[ref], fail
		}
	})
	whoami := func(c *http.Cookie) string { return body(h.get("/t/whoami", c)) }

	// Logged out in this process: the old cookie is anonymous at once, whatever the lookup says.
	cookie := sessionCookie(t, h.get("/t/sign-in"))
	if got := whoami(cookie); got != testUserID {
		t.Fatalf("signed in: %q", got)
	}
	if rec := h.get("/t/sign-out", cookie); rec.Code != http.StatusNoContent {
		t.Fatalf("sign-out: %d", rec.Code)
	}
	if got := whoami(cookie); got != "anonymous" {
		t.Fatalf("the logged-out cookie is still %q", got)
	}
	if rec := h.get("/t/private/area", cookie); rec.Code != http.StatusSeeOther {
		t.Fatalf("the logged-out cookie opens a protected page: %d", rec.Code)
	}

	// Logged out elsewhere: refused once the lookup says so (a fresh server: nothing cached).
	cookie = sessionCookie(t, h.get("/t/sign-in"))
	ref := body(h.get("/t/session-ref", cookie))
	if len(ref) != 32 {
		t.Fatalf("session ref %q", ref)
	}
	h2 := probe(t, func(d *app.Deps) {
		d.SessionRevoked = func(_ context.Context, r string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return revoked[r], nil
		}
	})
	if got := body(h2.get("/t/whoami", cookie)); got != testUserID {
		t.Fatalf("another process, before the log-out: %q", got)
	}
	mu.Lock()
	revoked[ref] = true
	mu.Unlock()
	h2.clock.Advance(3 * time.Second) // past the recheck interval of the "valid" answer
	rec := h2.get("/t/whoami", cookie)
	if got := body(rec); got != "anonymous" {
		t.Fatalf("another process, after the log-out: %q", got)
	}
	if sc := rec.Header().Get("Set-Cookie"); !strings.Contains(sc, app.SessionCookieName+"=") {
		t.Errorf("the refused cookie is not replaced or removed: Set-Cookie %q", sc)
	}

	// A lookup that fails keeps the session; a "valid" answer is reused for a while.
	cookie = sessionCookie(t, h.get("/t/sign-in"))
	mu.Lock()
	fail, calls = errors.New("database down"), 0
	mu.Unlock()
	if got := whoami(cookie); got != testUserID {
		t.Fatalf("with the lookup failing: %q", got)
	}
	mu.Lock()
	fail, calls = nil, 0
	mu.Unlock()
	for range 5 {
		whoami(cookie)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("%d lookups for 5 requests within the recheck interval, want 1", calls)
	}
}

// A request whose client has gone away (an upload aborted midway) has nobody to read its error page:
// the refusal is logged on the request line, as the client's doing, and nothing is rendered — not an
// ERROR "rendering error page failed" (the page's look-ups and templates stop on the cancelled
// context) that would page an operator for every closed browser tab.
func TestErrorOfARequestWhoseClientLeftIsNotRenderedNorLoggedAsAFailure(t *testing.T) {
	var leave context.CancelFunc
	h := newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), app.ApplicationFunc(func(r app.Router) {
		r.GET("/t/client-leaves", func(c echoContext) error {
			leave() // the connection closes while the handler reads the body
			return app.BadRequest("The upload could not be read. Please try again.")
		})
	})}, func(d *app.Deps) {
		d.Identify = func(ctx context.Context, userID string) (app.Identity, error) {
			if err := ctx.Err(); err != nil {
				return app.Identity{}, err // as the database does
			}
			return app.Identity{Email: "user@example.com"}, nil
		}
	})
	user := sessionCookie(t, h.get("/t/sign-in"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leave = cancel
	req := httptest.NewRequest(http.MethodGet, "/t/client-leaves", nil).WithContext(ctx)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(user)
	if rec := h.do(req); rec.Body.Len() != 0 {
		t.Errorf("an answer was written for a client that left: %d %q", rec.Code, rec.Body)
	}
	var requestLine bool
	for _, r := range h.logs.records(t) {
		if r["level"] == "ERROR" || r["msg"] == "identify user failed" {
			t.Errorf("the client's leaving is logged as a failure: %v", r)
		}
		if r["msg"] == "request" && r["route"] == "/t/client-leaves" {
			requestLine = true
			if r["status"] != float64(499) || !strings.Contains(fmt.Sprint(r["error"]), "could not be read") {
				t.Errorf("request line: %v", r)
			}
		}
	}
	if !requestLine {
		t.Errorf("no request line:\n%s", h.logs)
	}
}

// A request that routing already answers with 404 (no such path) or 405 (the path has other methods)
// changes nothing, so it needs no CSRF token: it gets that 404 or 405 (with Allow), not the 403 "form
// expired" page. Routes that exist keep their CSRF check.
func TestRequestsThatRoutingRefusesGet404Or405NotTheCSRFPage(t *testing.T) {
	h := probe(t)
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	anonymous, _ := csrfSession(t, h)
	send := func(method, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader("name=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		return h.do(req)
	}
	for _, cookies := range [][]*http.Cookie{nil, {anonymous}, {signedIn}} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if rec := send(method, "/no/such/route", cookies...); rec.Code != http.StatusNotFound || !strings.Contains(body(rec), "Page not found") {
				t.Errorf("%s to an unknown path (cookies %d): status %d, want the 404 page", method, len(cookies), rec.Code)
			}
			if rec := send(method, "/t/trace", cookies...); rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "GET") {
				t.Errorf("%s to a GET-only path (cookies %d): status %d, Allow %q; want 405 with Allow", method, len(cookies), rec.Code, rec.Header().Get("Allow"))
			}
		}
	}
	// Inside a group: a path with other methods is a 405, an unknown path a 404, once the group's
	// middleware let the visitor in; an anonymous visitor is still sent to log in.
	if rec := send(http.MethodPost, "/t/private/read-only", signedIn); rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "GET") {
		t.Errorf("POST to a group's GET-only path: status %d, Allow %q; want 405", rec.Code, rec.Header().Get("Allow"))
	}
	for _, path := range []string{"/t/private/nope", "/t/private"} {
		if rec := send(http.MethodPost, path, signedIn); rec.Code != http.StatusNotFound {
			t.Errorf("POST to unknown group path %s: status %d, want 404", path, rec.Code)
		}
		if rec := send(http.MethodPost, path, anonymous); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != app.LoginPath {
			t.Errorf("anonymous POST to unknown group path %s: status %d, Location %q; want the log-in redirect", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	// Routes that exist still need the token, inside a group too.
	for _, cookies := range [][]*http.Cookie{nil, {anonymous}, {signedIn}} {
		if rec := send(http.MethodPost, "/t/form", cookies...); rec.Code != http.StatusForbidden {
			t.Errorf("POST to a real route without a token (cookies %d): status %d, want 403", len(cookies), rec.Code)
		}
		if rec := send(http.MethodDelete, "/t/form", cookies...); rec.Code != http.StatusForbidden {
			t.Errorf("DELETE to a real route without a token (cookies %d): status %d, want 403", len(cookies), rec.Code)
		}
	}
	if rec := send(http.MethodPost, "/t/private/area", signedIn); rec.Code != http.StatusForbidden {
		t.Errorf("POST to a real group route without a token: status %d, want 403", rec.Code)
	}
}

// Routes added to Echo directly (as main adds its operational endpoints), also at a path where a group
// has its catch-all, are real routes: they keep the CSRF check.
func TestRoutesAddedToEchoDirectlyKeepTheirCSRFCheck(t *testing.T) {
	h := probe(t)
	ok := func(c echoContext) error { return c.String(http.StatusOK, "changed") }
	h.srv.Echo().POST("/t/direct", ok)
	h.srv.Echo().POST("/t/private/*", ok)
	cookie, token := csrfSession(t, h)
	for _, path := range []string{"/t/direct", "/t/private/anything"} {
		if rec := postForm(h, path, url.Values{}, cookie); rec.Code != http.StatusForbidden {
			t.Errorf("POST %s without a token: status %d, want 403", path, rec.Code)
		}
		if rec := postForm(h, path, url.Values{"_csrf": {token}}, cookie); rec.Code != http.StatusOK {
			t.Errorf("POST %s with its token: status %d, want 200", path, rec.Code)
		}
	}
}

// HEAD is served wherever GET is (routeHeadAsGet), so Allow lists it there: in the answer to OPTIONS
// and on 405s, on plain routes and in groups alike. A path without GET does not list it.
func TestAllowListsHeadWhereGetIsAllowed(t *testing.T) {
	h := probe(t)
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	ask := func(method, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		return h.do(req)
	}
	for _, tc := range []struct {
		method, path string
		cookie       *http.Cookie
		status       int
		allow        string
	}{
		{http.MethodOptions, "/t/trace", nil, http.StatusNoContent, "OPTIONS, GET, HEAD"},
		{http.MethodPut, "/t/trace", nil, http.StatusMethodNotAllowed, "OPTIONS, GET, HEAD"},
		{http.MethodOptions, "/t/form", nil, http.StatusNoContent, "OPTIONS, DELETE, POST"},
		{http.MethodPut, "/t/form", nil, http.StatusMethodNotAllowed, "OPTIONS, DELETE, POST"},
		{http.MethodOptions, templates.AssetPath("app.css"), nil, http.StatusNoContent, "OPTIONS, GET, HEAD"},
		{http.MethodOptions, "/t/private/read-only", signedIn, http.StatusNoContent, "GET, HEAD, OPTIONS"},
		{http.MethodOptions, "/t/private/area", signedIn, http.StatusNoContent, "GET, HEAD, POST, OPTIONS"},
		{http.MethodPut, "/t/private/area", signedIn, http.StatusMethodNotAllowed, "GET, HEAD, POST, OPTIONS"},
	} {
		var cookies []*http.Cookie
		if tc.cookie != nil {
			cookies = append(cookies, tc.cookie)
		}
		rec := ask(tc.method, tc.path, cookies...)
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: status %d, Allow %q; want %d with Allow %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.status, tc.allow)
		}
	}
	// A protected group still sends an anonymous visitor to log in first, whatever the method.
	if rec := ask(http.MethodOptions, "/t/private/read-only"); rec.Code != http.StatusSeeOther {
		t.Errorf("anonymous OPTIONS in a protected group: status %d, want the log-in redirect", rec.Code)
	}
}

// A log-out route (Router.LogOut) of a session that is not signed in changes nothing, so a token that
// does not check out (the form of a second tab, whose session the first tab logged out) ends where a
// log-out ends, without running the handler or touching the session. A signed-in session's log-out
// keeps its CSRF check.
func TestLogOutOfASessionThatIsNotSignedInNeedsNoToken(t *testing.T) {
	var mu sync.Mutex
	loggedOut := 0
	h := newHarness(t, []app.Application{app.ApplicationFunc(testRoutes), app.ApplicationFunc(func(r app.Router) {
		r.LogOut("/t/log-out", func(c echoContext) error {
			mu.Lock()
			loggedOut++
			mu.Unlock()
			if err := app.SignOut(c); err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, "/t/bye")
		}, "/t/bye")
		private := r.Group("/t/members", app.RequireLogin)
		private.LogOut("/log-out", func(c echoContext) error { return c.NoContent(http.StatusNoContent) }, "/t/bye")
	})})
	ran := func() int {
		mu.Lock()
		defer mu.Unlock()
		return loggedOut
	}
	signedIn := sessionCookie(t, h.get("/t/sign-in"))
	tokenReq := httptest.NewRequest(http.MethodGet, "/t/token", nil)
	tokenReq.AddCookie(signedIn)
	staleToken := body(h.do(tokenReq))

	// Signed in: refused without its token, or with another session's.
	_, otherToken := csrfSession(t, h)
	for _, token := range []string{"", otherToken, "garbage"} {
		if rec := postForm(h, "/t/log-out", url.Values{"_csrf": {token}}, signedIn); rec.Code != http.StatusForbidden {
			t.Fatalf("signed-in log-out with token %.10q: status %d, want 403", token, rec.Code)
		}
	}
	if got := body(h.get("/t/whoami", signedIn)); got != testUserID || ran() != 0 {
		t.Fatalf("a forged log-out logged out %q (handler ran %d times)", got, ran())
	}

	// The first tab logs out with its token.
	rec := postForm(h, "/t/log-out", url.Values{"_csrf": {staleToken}}, signedIn)
	if rec.Code != http.StatusSeeOther || ran() != 1 {
		t.Fatalf("log-out: status %d, handler ran %d times", rec.Code, ran())
	}
	anonymous := sessionCookie(t, rec)

	// The second tab: the new anonymous session with the old token; the old cookie with its token
	// (logged out, so no session); no session and no token at all.
	for name, req := range map[string]*httptest.ResponseRecorder{
		"stale token":       postForm(h, "/t/log-out", url.Values{"_csrf": {staleToken}}, anonymous),
		"logged-out cookie": postForm(h, "/t/log-out", url.Values{"_csrf": {staleToken}}, signedIn),
		"no session":        postForm(h, "/t/log-out", url.Values{}),
		"in a group":        postForm(h, "/t/members/log-out", url.Values{}, anonymous),
		"garbage token":     postForm(h, "/t/log-out", url.Values{"_csrf": {"x"}}, anonymous),
	} {
		if req.Code != http.StatusSeeOther || req.Header().Get("Location") != "/t/bye" {
			t.Errorf("%s: status %d, Location %q; want 303 to /t/bye", name, req.Code, req.Header().Get("Location"))
		}
	}
	if ran() != 1 {
		t.Errorf("the handler ran for a session that was not signed in (%d times)", ran())
	}
	// The anonymous session was left alone: no new cookie, and its tokens still work.
	rec = postForm(h, "/t/log-out", url.Values{"_csrf": {staleToken}}, anonymous)
	if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("the session was changed: Set-Cookie %q", sc)
	}
	tokenReq = httptest.NewRequest(http.MethodGet, "/t/token", nil)
	tokenReq.AddCookie(anonymous)
	if rec := postForm(h, "/t/form", url.Values{"_csrf": {body(h.do(tokenReq))}}, anonymous); rec.Code != http.StatusOK {
		t.Errorf("the anonymous session's token no longer works: status %d", rec.Code)
	}
	// Other routes are not affected: an anonymous POST without a token is refused as before.
	if rec := postForm(h, "/t/form", url.Values{}, anonymous); rec.Code != http.StatusForbidden {
		t.Errorf("anonymous POST to another route without a token: status %d, want 403", rec.Code)
	}
}
