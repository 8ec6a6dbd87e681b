package reliability

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"videotutorials/app"
)

// hostile are the text-field values of scenario 6: markup, script, SQL and control characters.
var hostile = []string{
	`<script>alert("xss")</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'; DROP TABLE creators_portal_videos; --`,
	`' OR '1'='1`,
	"line\r\nbreak\x00nul",
	`{{.}} ${jndi:ldap://x} %s%n`,
}

// TestBadInput is the HTTP half of scenario 6 (the fuzz tests are the other): oversized bodies and
// uploads, malformed cookies and CSRF tokens, and markup and SQL in every text field — names,
// descriptions, emails, passwords — which are rejected or stored as text and rendered escaped.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t), "MAX_UPLOAD_BYTES=65536")
	p := s.start()
	ctx := context.Background()
	db := s.db(t)
	cr := newCreator(t, s, fixedBase(p), 1)
	l := newLedger()
	l.uploads = append(l.uploads, cr.videos...)
	visitor := newClient(fixedBase(p))

	// Oversized bodies: refused with 413 (never a 500), and the process lives on.
	big := strings.Repeat("x", 8<<20)
	r, err := visitor.post("/register", url.Values{"userId": {"6f1c2a9e-1b2c-4d5e-8f90-123456789abc"}, "email": {big}, "password": {big}})
	if err != nil || r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("8 MiB registration form: %d %v", r.status, err)
	}
	content, _ := clip()
	for len(content) < 200<<10 {
		content = append(content, content...)
	}
	if _, r, err := cr.c.upload("big.webm", content); err == nil || r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("200 KiB upload over a 64 KiB limit: %d %v", r.status, err)
	}

	// Malformed cookies: a fresh session, never an error.
	for _, value := range []string{"garbage", strings.Repeat("A", 3000), "e30.e30", "%%%%", "\"quoted\"", "..", ""} {
		req, _ := http.NewRequest(http.MethodGet, p.base+"/", nil)
		req.AddCookie(&http.Cookie{Name: app.SessionCookieName, Value: value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET / with session cookie %.20q: %d", value, resp.StatusCode)
		}
	}
	// CSRF: missing, garbage and another session's tokens are refused.
	other := newClient(fixedBase(p))
	if err := other.refreshToken(); err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"missing": "", "garbage": "not-a-token", "long": strings.Repeat("Zm9v", 5000),
		"another session's": other.token, "truncated": other.token[:len(other.token)/2]} {
		c := newClient(fixedBase(p))
		c.hc.Jar = cr.c.hc.Jar
		form := url.Values{"name": {"csrf"}}
		if token != "" {
			form.Set("_csrf", token)
		}
		req, _ := http.NewRequest(http.MethodPost, p.base+"/creators-portal/videos/"+cr.videos[0]+"/name", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r, err := c.do(req)
		if err != nil || r.status != http.StatusForbidden {
			t.Errorf("rename with a %s CSRF token: %d %v", name, r.status, err)
		}
	}
	var multipartBody bytes.Buffer
	w := multipart.NewWriter(&multipartBody)
	fw, _ := w.CreateFormFile("video", "clip.webm")
	fw.Write(content[:1024])
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, p.base+"/creators-portal/publish-video", &multipartBody)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if r, err := cr.c.do(req); err != nil || r.status != http.StatusForbidden {
		t.Errorf("upload without a CSRF token: %d %v", r.status, err)
	}

	// Hostile emails and passwords: rejected with the form, the value escaped in it; a hostile
	// password is just a password.
	for _, v := range hostile {
		for _, email := range []string{v, v + "@example.com", "a@" + v} {
			_, r, err := visitor.register(email, "a good password")
			if err != nil || r.status != http.StatusBadRequest {
				t.Errorf("register %q: %d %v", email, r.status, err)
				continue
			}
			checkEscaped(t, "registration form for "+email, r.body, email)
		}
		if r, err := visitor.logIn(v+"@example.com", v); err != nil || r.status != http.StatusUnauthorized {
			t.Errorf("log in with %q: %d %v", v, r.status, err)
		}
	}
	hostileUser := newClient(fixedBase(p))
	if _, err := hostileUser.signUp("hostile-password@reliability.test", hostile[2]+hostile[0], 60*time.Second); err != nil {
		t.Errorf("a password full of markup and SQL: %v", err)
	}

	// Hostile names and descriptions: stored as text, rendered escaped on every page that shows them.
	video := cr.videos[0]
	for _, v := range hostile {
		if strings.ContainsRune(v, 0) {
			// The message store cannot hold a NUL byte: refused with a 400 (it was a 500).
			for _, kind := range []string{"name", "describe"} {
				if _, r, _ := cr.c.operation(video, kind, v); r.status != http.StatusBadRequest {
					t.Errorf("%s with a NUL byte: %d", kind, r.status)
				}
			}
			continue
		}
		for _, kind := range []string{"name", "describe"} {
			trace, _, err := cr.c.operation(video, kind, v)
			if err != nil {
				t.Fatalf("%s %q: %v", kind, v, err)
			}
			l.operations = append(l.operations, operation{trace, video, kind})
			eventually(t, 30*time.Second, "the "+kind+" to be decided", func() bool {
				r, err := cr.c.get("/creators-portal/video-operations/" + trace)
				return err == nil && (r.status == http.StatusSeeOther || strings.Contains(r.body, "rejected") || strings.Contains(r.body, "Rejected"))
			})
		}
		var name, description string
		eventually(t, 30*time.Second, "the view to show the hostile description", func() bool {
			_ = db.QueryRow(ctx, `SELECT name, description FROM creators_portal_videos WHERE id = $1`, video).Scan(&name, &description)
			return description == strings.TrimSpace(v)
		})
		for _, page := range []string{"/creators-portal/", "/creators-portal/videos/" + video, "/videos/" + video, "/"} {
			r, err := cr.c.get(page)
			if page == "/" {
				// The home page serves its list of published videos from a cache that may be up to
				// home.DefaultCacheTTL (1 s) behind the view: wait a little for the new name, while
				// every answer meanwhile must still be escaped.
				deadline := time.Now().Add(5 * time.Second)
				for err == nil && r.status == http.StatusOK && !shownEscaped(r.body, v) && time.Now().Before(deadline) {
					checkNotRaw(t, page, r.body, v)
					time.Sleep(100 * time.Millisecond)
					r, err = cr.c.get(page)
				}
			}
			if err != nil || r.status != http.StatusOK {
				t.Errorf("%s: %d %v", page, r.status, err)
				continue
			}
			checkEscaped(t, page, r.body, v)
		}
	}
	for _, table := range []string{"creators_portal_videos", "user_credentials"} {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s is gone", table)
		}
	}
	checkInvariants(t, s, l)
}

// checkEscaped fails if page contains value's markup raw, or does not show it escaped. Values without
// markup need no check.
func checkEscaped(t *testing.T, what, page, value string) {
	t.Helper()
	if !strings.ContainsAny(value, `<>"`) {
		return
	}
	checkNotRaw(t, what, page, value)
	if !shownEscaped(page, value) {
		t.Errorf("%s does not show %q escaped", what, value)
	}
}

// checkNotRaw fails if page contains value's markup raw.
func checkNotRaw(t *testing.T, what, page, value string) {
	t.Helper()
	for _, raw := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(value, raw) && regexp.MustCompile(regexp.QuoteMeta(raw)).MatchString(page) {
			t.Errorf("%s renders %q unescaped", what, raw)
		}
	}
}

// shownEscaped reports whether page shows value's markup escaped (true for a value without '<').
func shownEscaped(page, value string) bool {
	return !strings.Contains(value, "<") || strings.Contains(page, html.EscapeString("<"))
}
