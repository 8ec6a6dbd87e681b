package authenticate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/authenticate"
	"videotutorials/app/authenticate/authenticationmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

type fixture struct {
	srv   *app.Server
	store *messagestore.Store
	views pgx.Tx
	clock *apptest.Clock
}

// setup serves the application with the credentials view in a transaction that is rolled back.
func setup(t *testing.T, throttle authenticate.Throttle) *fixture {
	t.Helper()
	store := testdb.NewStore(t)
	tx := testdb.NewTx(t)
	clk := apptest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	srv := apptest.NewServer(t, app.Deps{}, authenticate.New(authenticate.Deps{
		Store: store, Views: tx, Logger: testdb.Quiet, Throttle: throttle, Now: clk.Now,
	}))
	return &fixture{srv: srv, store: store, views: tx, clock: clk}
}

type user struct{ id, email, password string }

// user puts a registered user into the credentials view.
func (f *fixture) user(t *testing.T) user {
	t.Helper()
	u := user{id: uuid.NewString(), email: "user-" + uuid.NewString()[:13] + "@example.com", password: "password-" + uuid.NewString()[:8]}
	hash, err := bcrypt.GenerateFromPassword([]byte(u.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.views.Exec(context.Background(),
		`INSERT INTO user_credentials (id, email, password_hash, position) VALUES ($1, $2, $3, 9000000000000)`,
		u.id, u.email, string(hash)); err != nil {
		t.Fatal(err)
	}
	return u
}

func logIn(b *apptest.Browser, email, password, next string) *httptest.ResponseRecorder {
	b.T.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	return b.Submit(authenticate.LogInPath, authenticate.LogInPath, form)
}

func TestLogInForm(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	rec := apptest.NewBrowser(t, f.srv).Get(authenticate.LogInPath)
	apptest.WantStatus(t, rec, http.StatusOK)
	page := rec.Body.String()
	for _, want := range []string{
		`<form class="form" method="post" action="/auth/log-in"><input type="hidden" name="_csrf"`,
		`<label for="email">Email</label>`, `autocomplete="username"`,
		`<label for="password">Password</label>`, `autocomplete="current-password"`, `href="/register"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(page, `name="next"`) {
		t.Error("next field without a next parameter")
	}

	t.Run("email from the registration page", func(t *testing.T) {
		page := apptest.NewBrowser(t, f.srv).Get(authenticate.LogInPath + "?email=" + url.QueryEscape(" Bob@Example.com")).Body.String()
		if !strings.Contains(page, `value="bob@example.com"`) {
			t.Error("email not filled in")
		}
	})
}

func TestLogInFormKeepsOnlyASafeNext(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	for next, keep := range map[string]bool{
		"/creators-portal/videos/1?x=1": true,
		"/admin":                        true,
		"/":                             false,
		"https://evil.example/":         false,
		"//evil.example/":               false,
		"/\\evil.example":               false,
		"javascript:alert(1)":           false,
		"/\t/evil.example":              false,
	} {
		page := apptest.NewBrowser(t, f.srv).Get(authenticate.LogInPath + "?next=" + url.QueryEscape(next)).Body.String()
		got := regexp.MustCompile(`name="next" value="([^"]*)"`).FindStringSubmatch(page)
		switch {
		case keep && (got == nil || got[1] != strings.ReplaceAll(next, "&", "&amp;")):
			t.Errorf("next %q: field %q", next, got)
		case !keep && got != nil:
			t.Errorf("next %q kept as %q", next, got[1])
		}
		// A visitor sent here from a page says why; one who came to log in is not told.
		if explains := strings.Contains(page, "Please log in to see that page."); explains != keep {
			t.Errorf("next %q: the page explains why it asks to log in: %v, want %v", next, explains, keep)
		}
	}
}

func TestLogInSucceeds(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)
	rec := logIn(b, "  "+strings.ToUpper(u.email)+" ", u.password, "")
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/" {
		t.Errorf("Location %q", loc)
	}
	if got := b.WhoAmI(); got != u.id {
		t.Fatalf("signed in as %q, want %s", got, u.id)
	}
	msgs := testdb.ReadStream(t, f.store, authenticationmsg.StreamName(u.id))
	if len(msgs) != 1 || msgs[0].Type != "UserLoggedIn" {
		t.Fatalf("authentication stream holds %+v", msgs)
	}
	var ev authenticationmsg.UserLoggedIn
	if err := msgs[0].Decode(&ev); err != nil || ev.UserID != u.id {
		t.Errorf("event %+v, %v", ev, err)
	}
	if md := msgs[0].Metadata; md.TraceID != rec.Header().Get(app.HeaderTraceID) || md.UserID != u.id {
		t.Errorf("metadata %+v", md)
	}
}

func TestLogInRedirectsToASafeNext(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	u := f.user(t)
	for next, want := range map[string]string{
		"/creators-portal/videos/1?x=1": "/creators-portal/videos/1?x=1",
		"https://evil.example/":         "/",
		"//evil.example/":               "/",
		"/\\evil.example":               "/",
		"http:/evil.example":            "/",
		"":                              "/",
	} {
		rec := logIn(apptest.NewBrowser(t, f.srv), u.email, u.password, next)
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != want {
			t.Errorf("next %q: Location %q, want %q", next, loc, want)
		}
	}
}

// normalise removes what differs between two renderings of a page for reasons other than the
// outcome: the CSRF token, the trace id and the email typed.
func normalise(page, email string) string {
	page = regexp.MustCompile(`name="_csrf" value="[^"]*"`).ReplaceAllString(page, "")
	page = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).ReplaceAllString(page, "ID")
	return strings.ReplaceAll(page, email, "EMAIL")
}

func TestWrongPasswordAndUnknownEmailLookTheSame(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)

	wrong := logIn(b, u.email, "not the password", "")
	apptest.WantStatus(t, wrong, http.StatusUnauthorized)
	unknown := logIn(b, "nobody-"+uuid.NewString()[:8]+"@example.com", "not the password", "")
	apptest.WantStatus(t, unknown, http.StatusUnauthorized)

	for _, rec := range []*httptest.ResponseRecorder{wrong, unknown} {
		if !strings.Contains(rec.Body.String(), `<p id="login-error" class="form-error" role="alert">Incorrect email or password.</p>`) {
			t.Errorf("no visible error:\n%s", rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "not the password") {
			t.Error("the password is sent back")
		}
	}
	unknownEmail := regexp.MustCompile(`nobody-[0-9a-f]{8}@example.com`).FindString(unknown.Body.String())
	if normalise(wrong.Body.String(), u.email) != normalise(unknown.Body.String(), unknownEmail) {
		t.Errorf("the pages differ:\n%s\n---\n%s", wrong.Body.String(), unknown.Body.String())
	}
	if b.WhoAmI() != "anonymous" {
		t.Error("signed in after a failed log-in")
	}

	msgs := testdb.ReadStream(t, f.store, authenticationmsg.StreamName(u.id))
	if len(msgs) != 1 || msgs[0].Type != "UserLoginFailed" {
		t.Fatalf("authentication stream holds %+v", msgs)
	}
	var ev authenticationmsg.UserLoginFailed
	if err := msgs[0].Decode(&ev); err != nil || ev.UserID != u.id || ev.Reason != authenticate.ReasonIncorrectPassword {
		t.Errorf("event %+v, %v", ev, err)
	}
	if md := msgs[0].Metadata; md.TraceID != wrong.Header().Get(app.HeaderTraceID) || md.UserID != "" {
		t.Errorf("metadata %+v: a failed log-in does not act as the user", md)
	}
}

func TestLogInNeedsBothFields(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	for name, form := range map[string][2]string{
		"no email":    {"", "password"},
		"no password": {"someone@example.com", ""},
		"nothing":     {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			rec := logIn(apptest.NewBrowser(t, f.srv), form[0], form[1], "")
			apptest.WantStatus(t, rec, http.StatusBadRequest)
			page := rec.Body.String()
			if (form[0] == "") != strings.Contains(page, `<p id="email-error" class="field__error">Enter your email address.</p>`) {
				t.Error("email field message wrong")
			}
			if (form[1] == "") != strings.Contains(page, `<p id="password-error" class="field__error">Enter your password.</p>`) {
				t.Error("password field message wrong")
			}
		})
	}
}

func TestLogInRefusesBadRequests(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)
	t.Run("no CSRF token", func(t *testing.T) {
		b.CSRF(authenticate.LogInPath)
		rec := b.Post(authenticate.LogInPath, url.Values{"email": {u.email}, "password": {u.password}})
		apptest.WantStatus(t, rec, http.StatusForbidden)
		if b.WhoAmI() != "anonymous" {
			t.Error("signed in without a token")
		}
	})
	t.Run("token of another visitor", func(t *testing.T) {
		other := apptest.NewBrowser(t, f.srv)
		b.CSRF(authenticate.LogInPath)
		rec := b.Post(authenticate.LogInPath, url.Values{"_csrf": {other.CSRF(authenticate.LogInPath)}, "email": {u.email}, "password": {u.password}})
		apptest.WantStatus(t, rec, http.StatusForbidden)
	})
	t.Run("oversized body", func(t *testing.T) {
		rec := b.Submit(authenticate.LogInPath, authenticate.LogInPath, url.Values{"email": {u.email}, "password": {strings.Repeat("p", 2<<20)}})
		apptest.WantStatus(t, rec, http.StatusRequestEntityTooLarge)
	})
	t.Run("overlong email", func(t *testing.T) {
		rec := logIn(b, u.email+strings.Repeat("x", 300), u.password, "")
		apptest.WantStatus(t, rec, http.StatusUnauthorized)
	})
}

func TestFailedLogInsAreThrottledPerEmail(t *testing.T) {
	f := setup(t, authenticate.Throttle{}) // the defaults: 5 per email in 15 minutes
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)
	for i := range authenticate.DefaultMaxFailuresPerEmail {
		if rec := logIn(b, u.email, "wrong", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i+1, rec.Code)
		}
	}
	// Now even the right password is refused from that address, before it is checked.
	rec := logIn(b, strings.ToUpper(u.email), u.password, "")
	apptest.WantStatus(t, rec, http.StatusTooManyRequests)
	if !strings.Contains(rec.Body.String(), "Too many failed log-in attempts") || !strings.Contains(rec.Body.String(), "15 minutes") {
		t.Errorf("no clear message:\n%s", rec.Body.String())
	}
	if ra := rec.Header().Get("Retry-After"); ra != "900" {
		t.Errorf("Retry-After %q", ra)
	}
	if n := len(testdb.ReadStream(t, f.store, authenticationmsg.StreamName(u.id))); n != authenticate.DefaultMaxFailuresPerEmail {
		t.Errorf("%d events: throttled attempts must not be recorded as failures", n)
	}
	// Another account is not affected.
	other := f.user(t)
	apptest.WantStatus(t, logIn(b, other.email, other.password, ""), http.StatusSeeOther)

	// The window ends.
	f.clock.Advance(14 * time.Minute)
	rec = logIn(b, u.email, u.password, "")
	apptest.WantStatus(t, rec, http.StatusTooManyRequests)
	if ra := rec.Header().Get("Retry-After"); ra != "60" || !strings.Contains(rec.Body.String(), "1 minute.") {
		t.Errorf("Retry-After %q", ra)
	}
	f.clock.Advance(time.Minute)
	apptest.WantStatus(t, logIn(b, u.email, u.password, ""), http.StatusSeeOther)
}

// Whoever knows an email could otherwise keep its owner out for good with five wrong passwords a
// quarter of an hour: while the email is throttled, an address with no failed attempt of its own
// still gets to try (one guess per fresh address, MaxFreshIPFailuresPerEmail in all), so the owner
// logs in from home while a stranger keeps failing elsewhere.
func TestALockedEmailsOwnerLogsInFromAFreshAddress(t *testing.T) {
	f := setup(t, authenticate.Throttle{}) // 5 per email, then 20 from fresh addresses
	u := f.user(t)
	attacker := apptest.NewBrowser(t, f.srv)
	attacker.RemoteAddr = "203.0.113.9:1111"
	for range authenticate.DefaultMaxFailuresPerEmail {
		apptest.WantStatus(t, logIn(attacker, u.email, "wrong", ""), http.StatusUnauthorized)
	}
	apptest.WantStatus(t, logIn(attacker, u.email, "wrong", ""), http.StatusTooManyRequests)

	// A guesser on a new address gets one try there, then that address is throttled too.
	second := apptest.NewBrowser(t, f.srv)
	second.RemoteAddr = "203.0.113.10:1111"
	apptest.WantStatus(t, logIn(second, u.email, "wrong", ""), http.StatusUnauthorized)
	apptest.WantStatus(t, logIn(second, u.email, u.password, ""), http.StatusTooManyRequests)

	// The owner, at home.
	home := apptest.NewBrowser(t, f.srv)
	home.RemoteAddr = "198.51.100.7:4321"
	apptest.WantStatus(t, logIn(home, u.email, u.password, ""), http.StatusSeeOther)
	// Which forgets the email's failures, as any success does: a wrong password is a 401 again.
	apptest.WantStatus(t, logIn(attacker, u.email, "wrong", ""), http.StatusUnauthorized)
}

// Fresh addresses have a budget of their own: past it, an email is throttled for everyone until its
// window ends, so guessing from many addresses gets no further than MaxFailuresPerEmail +
// MaxFreshIPFailuresPerEmail guesses a window.
func TestFreshAddressesHaveABudgetPerEmail(t *testing.T) {
	f := setup(t, authenticate.Throttle{MaxFailuresPerEmail: 2, MaxFreshIPFailuresPerEmail: 3})
	u := f.user(t)
	for i := range 2 + 3 {
		b := apptest.NewBrowser(t, f.srv)
		b.RemoteAddr = fmt.Sprintf("203.0.113.%d:1111", 20+i)
		apptest.WantStatus(t, logIn(b, u.email, "wrong", ""), http.StatusUnauthorized)
	}
	late := apptest.NewBrowser(t, f.srv)
	late.RemoteAddr = "198.51.100.7:4321"
	apptest.WantStatus(t, logIn(late, u.email, u.password, ""), http.StatusTooManyRequests)
	f.clock.Advance(authenticate.DefaultFailureWindow)
	apptest.WantStatus(t, logIn(late, u.email, u.password, ""), http.StatusSeeOther)
}

func TestUnknownEmailsAreThrottledLikeKnownOnes(t *testing.T) {
	f := setup(t, authenticate.Throttle{MaxFailuresPerEmail: 2})
	b := apptest.NewBrowser(t, f.srv)
	apptest.WantStatus(t, logIn(b, "ghost@example.com", "x", ""), http.StatusUnauthorized)
	apptest.WantStatus(t, logIn(b, "ghost@example.com", "x", ""), http.StatusUnauthorized)
	apptest.WantStatus(t, logIn(b, "ghost@example.com", "x", ""), http.StatusTooManyRequests)
}

func TestFailedLogInsAreThrottledPerIP(t *testing.T) {
	f := setup(t, authenticate.Throttle{MaxFailuresPerIP: 3})
	b := apptest.NewBrowser(t, f.srv)
	u := f.user(t)
	for i := range 3 {
		apptest.WantStatus(t, logIn(b, "guess-"+string(rune('a'+i))+"@example.com", "x", ""), http.StatusUnauthorized)
	}
	apptest.WantStatus(t, logIn(b, u.email, u.password, ""), http.StatusTooManyRequests)
	// The same account from another address is fine: it is the address that is throttled.
	other := apptest.NewBrowser(t, f.srv)
	other.RemoteAddr = "198.51.100.7:4321"
	apptest.WantStatus(t, logIn(other, u.email, u.password, ""), http.StatusSeeOther)
}

func TestSuccessForgetsTheEmailsFailures(t *testing.T) {
	f := setup(t, authenticate.Throttle{MaxFailuresPerEmail: 3})
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)
	for range 2 {
		apptest.WantStatus(t, logIn(b, u.email, "wrong", ""), http.StatusUnauthorized)
	}
	apptest.WantStatus(t, logIn(b, u.email, u.password, ""), http.StatusSeeOther)
	for range 3 {
		apptest.WantStatus(t, logIn(apptest.NewBrowser(t, f.srv), u.email, "wrong", ""), http.StatusUnauthorized)
	}
	apptest.WantStatus(t, logIn(apptest.NewBrowser(t, f.srv), u.email, "wrong", ""), http.StatusTooManyRequests)
}

func TestConcurrentGuessesCannotPassTheLimit(t *testing.T) {
	// Concurrent requests need a pool (a transaction serves one query at a time), so this test's user
	// is committed to the view and removed afterwards.
	pool := testdb.NewPool(t)
	u := user{id: uuid.NewString(), email: "user-" + uuid.NewString()[:13] + "@example.com"}
	if _, err := pool.Exec(context.Background(),
		`INSERT INTO user_credentials (id, email, password_hash, position) VALUES ($1, $2, 'x', 9000000000000)`,
		u.id, u.email); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DELETE FROM user_credentials WHERE id = $1`, u.id) })
	srv := apptest.NewServer(t, app.Deps{}, authenticate.New(authenticate.Deps{
		Store: testdb.NewStore(t), Views: pool, Logger: testdb.Quiet, Throttle: authenticate.Throttle{MaxFailuresPerEmail: 3},
	}))
	f := &fixture{srv: srv}
	var browsers []*apptest.Browser
	var forms []url.Values
	for range 8 {
		b := apptest.NewBrowser(t, f.srv)
		browsers = append(browsers, b)
		forms = append(forms, url.Values{"_csrf": {b.CSRF(authenticate.LogInPath)}, "email": {u.email}, "password": {"wrong"}})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	codes := map[int]int{}
	for i, b := range browsers {
		wg.Go(func() {
			rec := b.Post(authenticate.LogInPath, forms[i])
			mu.Lock()
			codes[rec.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] != 3 || codes[http.StatusTooManyRequests] != 5 {
		t.Fatalf("statuses %v, want 3×401 and 5×429", codes)
	}
}

func TestLogOut(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)
	apptest.WantStatus(t, logIn(b, u.email, u.password, ""), http.StatusSeeOther)

	t.Run("GET is not allowed", func(t *testing.T) {
		rec := b.Get(authenticate.LogOutPath)
		if rec.Code != http.StatusMethodNotAllowed && rec.Code != http.StatusNotFound {
			t.Fatalf("status %d", rec.Code)
		}
		if b.WhoAmI() != u.id {
			t.Fatal("GET logged out")
		}
	})
	t.Run("POST without token", func(t *testing.T) {
		apptest.WantStatus(t, b.Post(authenticate.LogOutPath, url.Values{}), http.StatusForbidden)
		if b.WhoAmI() != u.id {
			t.Fatal("logged out without a token")
		}
	})
	t.Run("POST", func(t *testing.T) {
		copied := b.Copy() // the session's cookie as someone who copied it before the log-out has it
		rec := b.Submit(authenticate.LogInPath, authenticate.LogOutPath, nil)
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != "/" {
			t.Errorf("Location %q", loc)
		}
		if b.WhoAmI() != "anonymous" {
			t.Fatal("still signed in")
		}
		if got := copied.WhoAmI(); got != "anonymous" {
			t.Fatalf("a copy of the logged-out session's cookie is still signed in as %q", got)
		}
		// The log-out is recorded with the session's ref, for the other processes.
		msgs := testdb.ReadStream(t, f.store, authenticationmsg.StreamName(u.id))
		last := msgs[len(msgs)-1]
		var e authenticationmsg.UserLoggedOut
		if err := last.Decode(&e); err != nil || last.Type != "UserLoggedOut" || e.UserID != u.id || len(e.SessionRef) != 32 ||
			last.Metadata.UserID != u.id {
			t.Fatalf("last event %s %+v %v (metadata %+v), want UserLoggedOut with the session's ref", last.Type, e, err, last.Metadata)
		}
	})
}

// Log-out from a stale tab: the second tab's form holds the token of a session the first tab logged
// out. Logging out a session that is not signed in changes nothing, so it ends where a log-out does,
// without a message; a signed-in session's log-out still needs its token.
func TestLogOutFromAStaleTab(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	u := f.user(t)
	b := apptest.NewBrowser(t, f.srv)
	apptest.WantStatus(t, logIn(b, u.email, u.password, ""), http.StatusSeeOther)
	staleToken := b.CSRF(authenticate.LogInPath) // the log-out form of the second tab

	apptest.WantStatus(t, b.Submit(authenticate.LogInPath, authenticate.LogOutPath, nil), http.StatusSeeOther)
	written := len(testdb.ReadStream(t, f.store, authenticationmsg.StreamName(u.id)))

	rec := b.Post(authenticate.LogOutPath, url.Values{"_csrf": {staleToken}})
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/" {
		t.Errorf("Location %q, want where a log-out ends: /", loc)
	}
	if b.WhoAmI() != "anonymous" {
		t.Fatal("signed in again")
	}
	if n := len(testdb.ReadStream(t, f.store, authenticationmsg.StreamName(u.id))); n != written {
		t.Fatalf("%d messages written by logging out a session that was not signed in", n-written)
	}
	// Without any session at all, and without a token: the same.
	rec = apptest.NewBrowser(t, f.srv).Post(authenticate.LogOutPath, url.Values{})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("log-out without a session: status %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}

	// A signed-in session is protected as before: a stale (or forged) token does not log it out.
	apptest.WantStatus(t, logIn(b, u.email, u.password, ""), http.StatusSeeOther)
	apptest.WantStatus(t, b.Post(authenticate.LogOutPath, url.Values{"_csrf": {staleToken}}), http.StatusForbidden)
	if b.WhoAmI() != u.id {
		t.Fatal("a stale token logged a signed-in session out")
	}
}

// A form body that cannot be read is a 400, also with the token in the header (the shell then leaves
// the body to the handler).
func TestLogInRefusesUnreadableFormsWith400(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	b := apptest.NewBrowser(t, f.srv)
	token := b.CSRF(authenticate.LogInPath)
	for name, body := range map[string]struct{ contentType, body string }{
		"broken escape":       {"application/x-www-form-urlencoded", "email=%zz&password=x"},
		"multipart cut short": {"multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nabc"},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, authenticate.LogInPath, strings.NewReader(body.body))
			req.Header.Set("Content-Type", body.contentType)
			req.Header.Set(app.CSRFHeader, token)
			apptest.WantStatus(t, b.Do(req), http.StatusBadRequest)
		})
	}
}
