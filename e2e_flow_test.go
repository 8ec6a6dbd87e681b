package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"videotutorials/app"
	"videotutorials/app/home"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// The end-to-end tests start the whole program with run() on port 0 against a throw-away database and
// use it as a visitor would: real HTTP, a cookie jar, CSRF tokens taken from the forms. Waits poll with
// generous deadlines; nothing asserts on timing.

var (
	e2eDBOnce sync.Once
	e2eDBURL  string
	e2eDBErr  error
)

// e2eDatabase starts one throw-away database for the end-to-end tests (or uses TEST_DATABASE_URL).
// The server dies with the test binary.
func e2eDatabase(t *testing.T) string {
	t.Helper()
	e2eDBOnce.Do(func() { e2eDBURL, _, e2eDBErr = devdb.ForTests() })
	if e2eDBErr != nil {
		t.Fatal(e2eDBErr)
	}
	return e2eDBURL
}

// lockedBuffer collects the program's log for failure reports.
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

// program is the whole system running in this test binary.
type program struct {
	t        *testing.T
	base     string // http://127.0.0.1:port
	emailDir string
	dbURL    string
	store    *messagestore.Store // the test's own client of the message store
	views    *pgxpool.Pool       // the test's own view of the view data
	logs     *lockedBuffer
	cancel   context.CancelFunc
	done     chan error
	stopped  bool
}

// startProgram runs the program until the test ends (or stop is called).
func startProgram(t *testing.T) *program {
	t.Helper()
	dbURL := e2eDatabase(t)
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":    dbURL,
		"EMAIL_DIRECTORY": filepath.Join(dir, "email"),
		"MEDIA_DIRECTORY": filepath.Join(dir, "media"),
		"DEV_DATA_DIR":    filepath.Join(dir, "dev"),
		"SESSION_SECRET":  "e2e-session-secret-0123456789abcdef",
		"PORT":            "0",
		"LOG_LEVEL":       "debug",
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := &program{t: t, emailDir: cfg.EmailDirectory, dbURL: dbURL, logs: &lockedBuffer{}, done: make(chan error, 1)}
	log := slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	addr := make(chan net.Addr, 1)
	go func() { p.done <- run(ctx, cfg, log, func(a net.Addr) { addr <- a }) }()
	select {
	case a := <-addr:
		p.base = "http://" + a.String()
	case err := <-p.done:
		t.Fatalf("run returned before it was ready: %v\n%s", err, p.logs)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatalf("program not ready\n%s", p.logs)
	}
	t.Cleanup(func() {
		if !p.stopped {
			p.stop()
		}
		if t.Failed() {
			t.Logf("program log:\n%s", p.logs)
		}
	})

	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	p.views = pool
	p.store = messagestore.New(pool, messagestore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return p
}

// stop cancels the program's context and checks that run returns nil.
func (p *program) stop() {
	p.t.Helper()
	p.stopped = true
	p.cancel()
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("run after shutdown: %v", err)
		}
	case <-time.After(60 * time.Second):
		p.t.Error("program did not shut down")
	}
}

// visitor is a browser without JavaScript: a cookie jar, redirects not followed (so they can be
// checked).
type visitor struct {
	t      *testing.T
	p      *program
	client *http.Client
}

func (p *program) visitor() *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: p.t, p: p, client: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status   int
	location string
	body     string
}

func (v *visitor) do(req *http.Request) response {
	v.t.Helper()
	req.Header.Set("Accept", "text/html")
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}

func (v *visitor) get(path string) response {
	v.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.p.base+path, nil)
	return v.do(req)
}

// submit posts form to path as the form on page would: with page's CSRF token and page as Referer.
func (v *visitor) submit(page response, pagePath, path string, form url.Values) response {
	v.t.Helper()
	form.Set("_csrf", field(v.t, page.body, "_csrf"))
	req, _ := http.NewRequest(http.MethodPost, v.p.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", v.p.base+pagePath)
	return v.do(req)
}

// field returns the value of the first input named name in page.
func field(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in:\n%s", name, page)
	}
	return m[1]
}

var (
	videosWatched = regexp.MustCompile(`id="videos-watched"[^>]*>(\d+)<`)
	headerEmail   = regexp.MustCompile(`class="account__user"[^>]*>([^<]+)<`)
)

// homeCount is the count the home page shows.
func (v *visitor) homeCount() int {
	v.t.Helper()
	page := v.get("/")
	m := videosWatched.FindStringSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		v.t.Fatalf("home page: status %d\n%s", page.status, page.body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// register fills in and submits the registration form; it returns the user id of the form.
func (v *visitor) register(email, password string) (string, response) {
	v.t.Helper()
	form := v.get("/register")
	userID := field(v.t, form.body, "userId")
	return userID, v.submit(form, "/register", "/register", url.Values{"userId": {userID}, "email": {email}, "password": {password}})
}

func (v *visitor) logIn(email, password string) response {
	v.t.Helper()
	form := v.get("/auth/log-in")
	return v.submit(form, "/auth/log-in", "/auth/log-in", url.Values{"email": {email}, "password": {password}})
}

// eventually polls cond until it holds or the (generous) deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// identityEvents returns the types of the events in a user's identity stream.
func (p *program) identityEvents(userID string) []string {
	p.t.Helper()
	msgs, err := p.store.ReadStream(context.Background(), identitymsg.StreamName(userID), 0, 100)
	if err != nil {
		p.t.Fatal(err)
	}
	var types []string
	for _, m := range msgs {
		types = append(types, m.Type)
	}
	return types
}

// emailsTo returns the .eml files in the pickup directory that are addressed to email.
func (p *program) emailsTo(email string) []string {
	p.t.Helper()
	files, err := filepath.Glob(filepath.Join(p.emailDir, "*.eml"))
	if err != nil {
		p.t.Fatal(err)
	}
	var to []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), email) {
			to = append(to, f)
		}
	}
	return to
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func freshE2EEmail() string { return "e2e-" + uuid.NewString()[:12] + "@Example.com" }

func TestEndToEndRegisterLogInAndWatch(t *testing.T) {
	p := startProgram(t)
	v := p.visitor()
	email, password := freshE2EEmail(), "correct horse battery"
	normalized := strings.ToLower(email)

	// Register.
	userID, res := v.register(email, password)
	if res.status != http.StatusSeeOther || res.location != "/register/registration-complete?user="+userID {
		t.Fatalf("register: %d → %q\n%s", res.status, res.location, res.body)
	}
	if page := v.get(res.location); page.status != http.StatusOK {
		t.Fatalf("registration complete page: %d", page.status)
	}

	// Identity registers the user and sends one email; the email's delivery is recorded.
	eventually(t, "RegistrationEmailSent", func() bool { return count(p.identityEvents(userID), "RegistrationEmailSent") == 1 })
	if events := p.identityEvents(userID); count(events, "Registered") != 1 {
		t.Fatalf("identity stream: %v", events)
	}
	if files := p.emailsTo(normalized); len(files) != 1 {
		t.Fatalf("%d emails to %s: %v", len(files), normalized, files)
	}
	if files, _ := filepath.Glob(filepath.Join(p.emailDir, "*.eml")); len(files) != 1 && os.Getenv("TEST_DATABASE_URL") == "" {
		t.Fatalf("%d emails in the pickup directory, want exactly one: %v", len(files), files)
	}

	// Log in once the credentials view knows the user (polling the view, not the form: failed
	// attempts would be throttled).
	eventually(t, "credentials view", func() bool {
		_, err := viewdata.CredentialsByEmail(context.Background(), p.views, normalized)
		return err == nil
	})
	if res := v.logIn(normalized, "wrong password"); res.status != http.StatusUnauthorized || !strings.Contains(res.body, "Incorrect email or password") {
		t.Fatalf("wrong password: %d", res.status)
	}
	res = v.logIn(email, password)
	if res.status != http.StatusSeeOther || res.location != "/" {
		t.Fatalf("log in: %d → %q\n%s", res.status, res.location, res.body)
	}
	var session *http.Cookie
	base, _ := url.Parse(p.base)
	for _, c := range v.client.Jar.Cookies(base) {
		if c.Name == app.SessionCookieName {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie after logging in")
	}
	homePage := v.get("/")
	if m := headerEmail.FindStringSubmatch(homePage.body); m == nil || m[1] != normalized {
		t.Fatalf("header shows %q, want %s", m, normalized)
	}

	// Record a viewing; the count goes up.
	before := v.homeCount()
	res = v.submit(homePage, "/", "/record-viewing/"+home.DemoVideoID, url.Values{})
	if res.status != http.StatusSeeOther || res.location != "/" {
		t.Fatalf("record viewing: %d → %q", res.status, res.location)
	}
	eventually(t, "home count to go up", func() bool { return v.homeCount() > before })

	// The viewing is the user's.
	msgs, err := p.store.ReadStream(context.Background(), "viewing-"+home.DemoVideoID, 0, 1000)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("viewing stream: %v, %d messages", err, len(msgs))
	}
	if last := msgs[len(msgs)-1]; last.Metadata.UserID != userID || !strings.Contains(string(last.Data), userID) {
		t.Errorf("last viewing %s %+v is not the user's", last.Data, last.Metadata)
	}

	// A second process on the same database (the same SESSION_SECRET) knows the session too.
	q := startProgram(t)
	replay := func(base string) string {
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := headerEmail.FindStringSubmatch(replay(q.base)); m == nil || m[1] != normalized {
		t.Fatalf("the other process does not know the session: %q", m)
	}

	// Log out.
	res = v.submit(v.get("/"), "/", "/auth/log-out", url.Values{})
	if res.status != http.StatusSeeOther || headerEmail.MatchString(v.get("/").body) {
		t.Fatalf("log out: %d", res.status)
	}
	// A copy of the session's cookie taken before the log-out is refused: by the process that logged
	// it out at once, by the other one once the log-out has reached the view (UserLoggedOut →
	// user-credentials → logged_out_sessions).
	if headerEmail.MatchString(replay(p.base)) {
		t.Fatal("the logged-out session's cookie still signs in on the process that logged it out")
	}
	eventually(t, "the other process to refuse the logged-out session", func() bool {
		return !headerEmail.MatchString(replay(q.base))
	})

	q.stop()
	p.stop()
}

func TestEndToEndRegistrationRace(t *testing.T) {
	p := startProgram(t)
	email := freshE2EEmail()
	normalized := strings.ToLower(email)

	// Two visitors submit the registration form for one email at the same time.
	a, b := p.visitor(), p.visitor()
	formA, formB := a.get("/register"), b.get("/register")
	ids := [2]string{field(t, formA.body, "userId"), field(t, formB.body, "userId")}
	var results [2]response
	var wg sync.WaitGroup
	for i, v := range []*visitor{a, b} {
		form := []response{formA, formB}[i]
		wg.Go(func() {
			results[i] = v.submit(form, "/register", "/register", url.Values{"userId": {ids[i]}, "email": {email}, "password": {"password-" + strconv.Itoa(i)}})
		})
	}
	wg.Wait()
	t.Logf("the form answered %d and %d", results[0].status, results[1].status)
	for i, res := range results {
		switch {
		case res.status == http.StatusSeeOther:
		case res.status == http.StatusBadRequest && strings.Contains(res.body, "already registered"):
			// The view already showed the email: force the race with the command the form refused.
			hash, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.store.Write(context.Background(), identitymsg.CommandStreamName(ids[i]), messagestore.AnyVersion,
				messagestore.NewEvent(identitymsg.Register{UserID: ids[i], Email: normalized, PasswordHash: string(hash)},
					messagestore.Metadata{TraceID: uuid.NewString()})); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("registration %d: %d\n%s", i, res.status, res.body)
		}
	}

	decided := func(events []string) bool {
		return count(events, "Registered")+count(events, "RegistrationRejected") > 0
	}
	eventually(t, "both registrations decided", func() bool {
		return decided(p.identityEvents(ids[0])) && decided(p.identityEvents(ids[1]))
	})
	var registered, rejected []string
	for _, id := range ids {
		events := p.identityEvents(id)
		if n := count(events, "Registered"); n == 1 {
			registered = append(registered, id)
		}
		if n := count(events, "RegistrationRejected"); n == 1 {
			rejected = append(rejected, id)
		}
	}
	if len(registered) != 1 || len(rejected) != 1 {
		t.Fatalf("registered %v, rejected %v: want exactly one of each", registered, rejected)
	}
	// The winner gets the one email.
	eventually(t, "the winner's registration email", func() bool {
		return count(p.identityEvents(registered[0]), "RegistrationEmailSent") == 1
	})
	if files := p.emailsTo(normalized); len(files) != 1 {
		t.Fatalf("%d emails to %s", len(files), normalized)
	}
	// And the credentials view holds the winner.
	eventually(t, "credentials view", func() bool {
		c, err := viewdata.CredentialsByEmail(context.Background(), p.views, normalized)
		return err == nil && c.ID == registered[0]
	})
	if _, err := viewdata.CredentialsByID(context.Background(), p.views, rejected[0]); !errors.Is(err, viewdata.ErrNotFound) {
		t.Errorf("the rejected user has credentials: %v", err)
	}
	// The registration-complete pages tell each what became of their registration.
	v := p.visitor()
	eventually(t, "the pages after the race", func() bool {
		won := v.get("/register/registration-complete?user=" + registered[0])
		lost := v.get("/register/registration-complete?user=" + rejected[0])
		return strings.Contains(won.body, "Your account is ready") && strings.Contains(lost.body, "We could not register you")
	})

	p.stop()
}
