package admin_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/aggregators/adminsubscriberpositions"
	"videotutorials/aggregators/adminusers"
	"videotutorials/app"
	"videotutorials/app/admin"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

const (
	secretBody = "Welcome-secret-body-text-7f3a"
	secretHTML = "<p>secret-html-body-9c1d</p>"
	hash       = "$2a$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
)

type fixture struct {
	srv                     *httptest.Server
	adminID, userID         string
	traceID, gpRegistered   string
	stream, category, typ   string
	store                   *messagestore.Store
	sup                     *messagestore.Supervisor
	sendGlobalPositionValue int64
}

// setup writes a small history (registration with a password hash, an email with a body, a login, a
// viewing), applies the admin aggregators and serves the shell with the admin portal.
func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	store := messagestore.New(testdb.Pool(), messagestore.Options{Logger: testdb.Quiet})
	f := &fixture{adminID: uuid.NewString(), userID: uuid.NewString(), traceID: uuid.NewString(), store: store}
	md := messagestore.Metadata{TraceID: f.traceID, UserID: f.userID}
	write := func(stream, typ string, data any) int64 {
		if _, err := store.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: typ, Data: data, Metadata: md}); err != nil {
			t.Fatal(err)
		}
		m, err := store.LastMessage(ctx, stream, "")
		if err != nil {
			t.Fatal(err)
		}
		return m.GlobalPosition
	}
	email := "user-" + f.userID[:8] + "@example.com"
	write("identity:command-"+f.userID, "Register", map[string]string{"userId": f.userID, "email": email, "passwordHash": hash})
	f.gpRegistered = fmt.Sprint(write("identity-"+f.userID, "Registered", map[string]string{"userId": f.userID, "email": email, "passwordHash": hash}))
	emailID := uuid.NewString()
	f.sendGlobalPositionValue = write("sendEmail:command-"+emailID, "Send", map[string]string{"emailId": emailID, "to": email, "subject": "Hi", "text": secretBody, "html": secretHTML})
	write("sendEmail-"+emailID, "Sent", map[string]string{"emailId": emailID, "to": email, "subject": "Hi", "text": secretBody, "html": secretHTML})
	write("identity-"+f.userID, "RegistrationEmailSent", map[string]string{"userId": f.userID, "emailId": emailID})
	write("authentication-"+f.userID, "UserLoggedIn", map[string]string{"userId": f.userID})
	videoID := uuid.NewString()
	write("viewing-"+videoID, "VideoViewed", map[string]string{"userId": f.userID, "videoId": videoID})
	f.stream, f.category, f.typ = "viewing-"+videoID, "viewing", "VideoViewed"

	all, err := store.ReadAll(ctx, 0, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	users := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	streams := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	positions := adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	for _, h := range []func(context.Context, []messagestore.Message) error{users.HandleMessages, streams.HandleMessages, positions.HandleReads} {
		if err := h(ctx, all); err != nil {
			t.Fatal(err)
		}
	}

	// A parked-looking subscription is not needed; a real (not running) one shows the page's rows.
	sub, err := store.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:admin-page", Category: "viewing",
		HandleBatch: func(context.Context, []messagestore.Message) error { return nil }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.sup = messagestore.NewSupervisor(store, nil, sub)

	srv := app.New(app.Deps{
		Logger:        testdb.Quiet,
		SessionSecret: []byte("0123456789abcdef0123456789abcdef-admin-test"),
		Identify: func(_ context.Context, id string) (app.Identity, error) {
			return app.Identity{Email: id + "@example.com", IsAdmin: id == f.adminID}, nil
		},
	})
	a := admin.New(admin.Deps{Views: testdb.Pool(), Store: testdb.Pool(), Head: store.CategoryHead,
		Contracts: func() []messagestore.Contract {
			return []messagestore.Contract{adminstreams.Contract, adminusers.Contract}
		},
		RequestRetry: store.RequestRetry})
	a.SetSupervisor(f.sup)
	srv.Mount(a, app.ApplicationFunc(func(r app.Router) {
		// Test-only sign-in.
		r.GET("/test/sign-in/:id", func(c echo.Context) error {
			if err := app.SignIn(c, c.Param("id")); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		})
	}))
	f.srv = httptest.NewServer(srv.Echo())
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) client(t *testing.T, userID string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if userID != "" {
		res, err := c.Get(f.srv.URL + "/test/sign-in/" + userID)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	return c
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (f *fixture) routes() []string {
	return []string{
		"/admin", "/admin/users", "/admin/users/" + f.userID, "/admin/messages",
		"/admin/messages?type=Sent", "/admin/messages?category=sendEmail", "/admin/messages?stream=" + url.QueryEscape(f.stream),
		"/admin/messages?trace=" + f.traceID, "/admin/messages?user=" + f.userID,
		"/admin/messages/" + f.gpRegistered, "/admin/messages/" + fmt.Sprint(f.sendGlobalPositionValue),
		"/admin/streams", "/admin/streams/" + url.PathEscape("identity-"+f.userID),
		"/admin/categories", "/admin/categories/sendEmail", "/admin/types/Send", "/admin/types/Registered",
		"/admin/traces/" + f.traceID, "/admin/subscriber-positions", "/admin/subscriptions", "/admin/system",
	}
}

func TestAuthorisationOnEveryRoute(t *testing.T) {
	f := setup(t)
	anon, user, adm := f.client(t, ""), f.client(t, f.userID), f.client(t, f.adminID)
	for _, r := range f.routes() {
		if st, _, h := get(t, anon, f.srv.URL+r); st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/auth/log-in") {
			t.Errorf("anonymous %s: %d %s, want a redirect to the log-in page", r, st, h.Get("Location"))
		}
		if st, _, _ := get(t, user, f.srv.URL+r); st != http.StatusForbidden {
			t.Errorf("ordinary user %s: %d, want 403", r, st)
		}
		if st, body, _ := get(t, adm, f.srv.URL+r); st != http.StatusOK {
			t.Errorf("admin %s: %d, want 200\n%.400s", r, st, body)
		}
	}
	// The retry action: POST without a CSRF token is refused, for admins too.
	res, err := adm.PostForm(f.srv.URL+"/admin/subscriptions/test:admin-page/retry", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("retry without CSRF: %d, want 403", res.StatusCode)
	}
	// A user with a valid CSRF token (from the log-out form on any page) is refused as a non-admin,
	// not merely for lacking the token.
	_, page, _ := get(t, user, f.srv.URL+"/admin/system")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the user's page")
	}
	res, err = user.PostForm(f.srv.URL+"/admin/subscriptions/test:admin-page/retry", url.Values{"_csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "administrators") {
		t.Errorf("retry by a user with a CSRF token: %d, want 403 for administrators only\n%.400s", res.StatusCode, body)
	}
}

func TestRetryWithCSRF(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	_, body, _ := get(t, adm, f.srv.URL+"/admin/system")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	res, err := adm.PostForm(f.srv.URL+"/admin/subscriptions/test:admin-page/retry", url.Values{"_csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("retry: %d, want 303", res.StatusCode)
	}
	res, err = adm.PostForm(f.srv.URL+"/admin/subscriptions/nope/retry", url.Values{"_csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("retry of an unknown subscription: %d, want 404", res.StatusCode)
	}
}

// The positions page lists every subscriber, wherever it runs; its retry action asks every process
// (NOTIFY on the message store) to retry the subscription if it runs it parked. Administrators only,
// with a CSRF token.
func TestRetryAnywhereFromThePositionsPage(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pooled, err := testdb.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn := pooled.Hijack() // it will carry LISTEN state: not for the pool
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN message_store_retry`); err != nil {
		t.Fatal(err)
	}
	adm := f.client(t, f.adminID)
	_, body, _ := get(t, adm, f.srv.URL+"/admin/subscriber-positions")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	id := "worker:" + uuid.NewString() + "/a b" // escaped in the form's URL, decoded once
	target := f.srv.URL + "/admin/subscriber-positions/" + url.PathEscape(id) + "/retry"
	if res, err := f.client(t, f.userID).PostForm(target, url.Values{"_csrf": {m[1]}}); err != nil {
		t.Fatal(err)
	} else if res.Body.Close(); res.StatusCode != http.StatusForbidden {
		t.Errorf("retry by a user: %d, want 403", res.StatusCode)
	}
	res, err := adm.PostForm(target, url.Values{"_csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d, want 303", res.StatusCode)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("no retry request went out: %v", err)
		}
		if n.Payload == id {
			break // other tests' requests may come first
		}
	}
}

func TestRedaction(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	for _, r := range f.routes() {
		st, body, _ := get(t, adm, f.srv.URL+r)
		if st != http.StatusOK {
			t.Errorf("%s: %d", r, st)
		}
		for _, secret := range []string{"$2a$", "$2b$", secretBody, "secret-html-body"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows %q", r, secret)
			}
		}
	}
	_, body, _ := get(t, adm, f.srv.URL+"/admin/messages/"+f.gpRegistered)
	if !strings.Contains(body, "[redacted]") {
		t.Error("the Registered message does not say its hash was redacted")
	}
}

func TestPaginationBounds(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	bad := []string{
		"/admin/messages?limit=0", "/admin/messages?limit=201", "/admin/messages?limit=x", "/admin/messages?before=abc",
		"/admin/messages?before=-5", "/admin/users?after=%21%21", "/admin/users?after=" + url.QueryEscape("bm90LWEtdXNlcg"),
		"/admin/streams?after=***", "/admin/categories?after=!!", "/admin/subscriber-positions?after=@@",
		"/admin/traces/" + f.traceID + "?after=zz", "/admin/traces/not-a-uuid", "/admin/users/not-a-uuid",
		"/admin/messages/abc", "/admin/messages?trace=xyz", "/admin/messages?category=a-b",
		"/admin/streams/" + url.PathEscape("identity-"+f.userID) + "?before=q",
		// Cursors and names that decode to bytes PostgreSQL cannot hold (invalid UTF-8, NUL).
		"/admin/streams?after=zzz", "/admin/streams?after=viewing", "/admin/categories?after=" + cursor("a\x00b"),
		"/admin/subscriber-positions?after=" + cursor("\xff"), "/admin/users?after=" + cursor("\xff\x00"+f.userID),
		"/admin/streams/a%00b", "/admin/streams/%FF", "/admin/categories/%FF", "/admin/types/a%00b",
		"/admin/messages?stream=a%00b", "/admin/messages?category=%FF", "/admin/messages?type=%FF",
	}
	for _, r := range bad {
		if st, _, _ := get(t, adm, f.srv.URL+r); st != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", r, st)
		}
	}
	// Page size 1 walks the stream of the user's identity one message at a time.
	next := "/admin/streams/" + url.PathEscape("identity-"+f.userID) + "?limit=1"
	seen := 0
	for next != "" && seen < 10 {
		st, body, _ := get(t, adm, f.srv.URL+next)
		if st != http.StatusOK {
			t.Fatalf("%s: %d", next, st)
		}
		seen += strings.Count(body, `href="/admin/types/`)
		m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
		next = ""
		if m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if seen != 2 {
		t.Errorf("walked %d messages of the identity stream one per page, want 2", seen)
	}
	if st, _, _ := get(t, adm, f.srv.URL+"/admin/messages/999999999"); st != http.StatusNotFound {
		t.Errorf("unknown message: %d, want 404", st)
	}
}

// cursor encodes a page cursor as the admin pages do (base64url of the last key shown).
func cursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// Stream names and types are any text a Message DB client chose: a “%” or a “/” in one must lead, by
// the portal's own links, to that stream or type — not to the stream whose name is the link decoded
// twice (“a%41b” is not “aAb”), nor to an empty list.
func TestLinksToNamesWithPercentAndSlash(t *testing.T) {
	ctx := context.Background()
	store := messagestore.New(testdb.Pool(), messagestore.Options{Logger: testdb.Quiet})
	category := "pct" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	names := []string{category + "-a%41b", category + "-aAb", category + "-x/y", category + "-100%"}
	for i, stream := range names {
		typ := "Thing"
		if i == 2 {
			typ = "Slash/Type" + category
		}
		if _, err := store.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: typ, Data: map[string]int{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	f := setup(t)
	adm := f.client(t, f.adminID)
	st, page, _ := get(t, adm, f.srv.URL+"/admin/categories/"+category)
	if st != http.StatusOK {
		t.Fatalf("category page: %d", st)
	}
	links := regexp.MustCompile(`href="(/admin/streams/[^"?]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) != len(names) {
		t.Fatalf("category page links %d streams, want %d:\n%s", len(links), len(names), page)
	}
	for _, l := range links {
		st, body, _ := get(t, adm, f.srv.URL+l[1])
		m := regexp.MustCompile(`<h1[^>]*>Stream ([^<]*)<`).FindStringSubmatch(body)
		if st != http.StatusOK || m == nil {
			t.Errorf("%s: %d\n%.600s", l[1], st, body)
			continue
		}
		want, _ := url.PathUnescape(strings.TrimPrefix(l[1], "/admin/streams/"))
		if got := html.UnescapeString(m[1]); got != want {
			t.Errorf("%s shows stream %q, want %q", l[1], got, want)
		}
	}
	// The next page of a stream whose name has a slash is that stream's too.
	slash := "/admin/streams/" + url.PathEscape(category+"-x/y")
	if _, err := store.Write(ctx, category+"-x/y", messagestore.AnyVersion, messagestore.NewMessage{Type: "Again", Data: map[string]int{}}); err != nil {
		t.Fatal(err)
	}
	_, body, _ := get(t, adm, f.srv.URL+slash+"?limit=1")
	m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	if m == nil || !strings.HasPrefix(m[1], slash+"?") {
		t.Errorf("next page of %s: %v, want a link to the same stream", slash, m)
	} else if st, body, _ := get(t, adm, f.srv.URL+html.UnescapeString(m[1])); st != http.StatusOK || !strings.Contains(body, "Slash/Type") {
		t.Errorf("next page %s: %d, want the stream's older message\n%.600s", m[1], st, body)
	}
	typ := "Slash/Type" + category
	st, body, _ = get(t, adm, f.srv.URL+"/admin/types/"+url.PathEscape(typ))
	if st != http.StatusOK || !strings.Contains(body, category+"-x/y") {
		t.Errorf("messages of type %q: %d, the message is not listed\n%.600s", typ, st, body)
	}
}

// The positions page shows a parked subscription from admin_subscriber_status, which the status
// streams feed, so that a web process shows a worker's park too; a subscriber that parked before
// saving any position is listed as well.
func TestPositionsPageShowsParkedSubscriptionsOfAnyProcess(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	prefix := "parked-" + uuid.NewString()
	id := prefix + ":worker"
	if _, err := testdb.Pool().Exec(ctx, `INSERT INTO admin_subscriber_status (subscriber_id, parked, error,
		failing_global_position, failing_stream_name, failing_type, attempts, changed_at, status_global_position)
		VALUES ($1, true, 'cannot handle <this> one', 77, 'account-1', 'Deposited', 5, now(), 1)`, id); err != nil {
		t.Fatal(err)
	}
	running := prefix + ":web"
	if _, err := testdb.Pool().Exec(ctx, `INSERT INTO admin_subscriber_positions (subscriber_id, position, updated_at,
		last_read_global_position) VALUES ($1, 12, now(), 13)`, running); err != nil {
		t.Fatal(err)
	}
	adm := f.client(t, f.adminID)
	st, body, _ := get(t, adm, f.srv.URL+"/admin/subscriber-positions?limit=2&after="+base64.RawURLEncoding.EncodeToString([]byte(prefix)))
	if st != http.StatusOK {
		t.Fatalf("positions page: %d", st)
	}
	for _, want := range []string{id, "Parked", "cannot handle &lt;this&gt; one", "/admin/messages/77", "none saved", running, "not parked"} {
		if !strings.Contains(body, want) {
			t.Errorf("positions page lacks %q", want)
		}
	}
	// A subscriber that saved a position links its position stream; one that never did has no such
	// stream, and its id is not a link to a page that does not exist.
	if want := `/admin/streams/subscriberPosition-` + url.PathEscape(running); !strings.Contains(body, want) {
		t.Errorf("positions page lacks the link %q", want)
	}
	if strings.Contains(body, `/admin/streams/subscriberPosition-`+url.PathEscape(id)) {
		t.Error("a subscriber that never saved a position links a position stream")
	}
}

// A subscription that keeps retrying a transient failure (admin_subscriber_status.retrying, from the
// Retrying of its status stream) shows as retrying on any process's positions page, with its error and
// failing message, and not as parked.
func TestPositionsPageShowsRetryingSubscriptionsOfAnyProcess(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	id := "retrying-" + uuid.NewString() + ":worker"
	if _, err := testdb.Pool().Exec(ctx, `INSERT INTO admin_subscriber_status (subscriber_id, parked, retrying, error,
		failing_global_position, failing_stream_name, failing_type, attempts, changed_at, status_global_position)
		VALUES ($1, false, true, 'no space left on <device>', 91, 'videoPublishing-1', 'PublishVideo', 9, now(), 1)`, id); err != nil {
		t.Fatal(err)
	}
	adm := f.client(t, f.adminID)
	st, body, _ := get(t, adm, f.srv.URL+"/admin/subscriber-positions?limit=1&after="+base64.RawURLEncoding.EncodeToString([]byte(id[:len(id)-1])))
	if st != http.StatusOK {
		t.Fatalf("positions page: %d", st)
	}
	for _, want := range []string{id, "admin-sub--retrying", "<strong>Retrying</strong>", "no space left on &lt;device&gt; (9 attempts by then)",
		"/admin/messages/91", "PublishVideo at 91"} {
		if !strings.Contains(body, want) {
			t.Errorf("positions page lacks %q", want)
		}
	}
	if strings.Contains(body, "<strong>Parked</strong>") || strings.Contains(body, "not parked") {
		t.Error("a retrying subscription is shown as parked, or as neither")
	}
}
