package templates

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"videotutorials/viewdata"
)

func renderErrorPage(t *testing.T, p Page, e ErrorInfo) string {
	t.Helper()
	var sb strings.Builder
	if err := ErrorPage(p, e).Render(context.Background(), &sb); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestAssetPathRoundTrip(t *testing.T) {
	for _, name := range []string{"app.css", "live.js", "logo.svg"} {
		p := AssetPath(name)
		requested := strings.TrimPrefix(p, "/static/")
		a, immutable, ok := LookupAsset(requested)
		if !ok || !immutable || a.Name != name || len(a.Body) == 0 {
			t.Errorf("%s → %s → %+v immutable=%v ok=%v", name, p, a.Name, immutable, ok)
		}
		if _, immutable, ok := LookupAsset(name); !ok || immutable {
			t.Errorf("plain %s: ok=%v immutable=%v", name, ok, immutable)
		}
	}
	if _, immutable, ok := LookupAsset("app.0123456789ab.css"); !ok || immutable {
		t.Errorf("stale fingerprint: ok=%v immutable=%v (want served, revalidated)", ok, immutable)
	}
	for _, bad := range []string{"", "nope.css", "app.xyz.css", "app.0123456789ab.nope", "static/app.css"} {
		if _, _, ok := LookupAsset(bad); ok {
			t.Errorf("LookupAsset(%q) found something", bad)
		}
	}
}

func TestErrorPages(t *testing.T) {
	p := Page{Title: "Page not found", Path: "/creators-portal/videos/x", TraceID: "trace-123", CSRFToken: "tok"}
	for _, tc := range []struct {
		status int
		msg    string
		want   []string
		not    []string
	}{
		{400, "Email is missing.", []string{"400", "Email is missing."}, nil},
		{401, "", []string{"Please log in", `href="/auth/log-in?next=%2Fcreators-portal%2Fvideos%2Fx"`}, nil},
		{403, "", []string{"You can’t do that", "reload the page"}, nil},
		{404, "", []string{"Page not found", "404"}, []string{"Reference"}},
		{413, "", []string{"That’s too large"}, nil},
		{416, "", []string{"That part of the file isn’t there", "beyond its end"}, []string{"Requested Range Not Satisfiable", "on our side"}},
		{429, "", []string{"Slow down"}, nil},
		{500, "db password is hunter2", []string{"Something went wrong", "Reference: <code>trace-123</code>"}, []string{"hunter2"}},
		// A 503 with a message (app.Error: the application says what is unavailable, e.g. room for
		// uploads) shows it instead of the default lead, which blames a restart or heavy load.
		{503, "The server has no room for more videos right now.", []string{"Temporarily unavailable", "no room for more videos"}, []string{"restarting"}},
		{503, "", []string{"Temporarily unavailable", "restarting or under heavy load"}, nil},
	} {
		html := renderErrorPage(t, p, ErrorInfo{Status: tc.status, Message: tc.msg})
		for _, w := range tc.want {
			if !strings.Contains(html, w) {
				t.Errorf("%d page lacks %q", tc.status, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(html, n) {
				t.Errorf("%d page contains %q", tc.status, n)
			}
		}
		if regexp.MustCompile(`\sstyle=|\son[a-z]+=|<style|<script>`).MatchString(html) {
			t.Errorf("%d page is not inline-free", tc.status)
		}
	}
}

func TestNavigation(t *testing.T) {
	anon := renderErrorPage(t, Page{Path: "/"}, ErrorInfo{Status: 404})
	for _, w := range []string{`href="/register"`, `href="/auth/log-in"`, `href="/creators-portal/"`} {
		if !strings.Contains(anon, w) {
			t.Errorf("anonymous nav lacks %s", w)
		}
	}
	if strings.Contains(anon, "log-out") || strings.Contains(anon, `href="/admin"`) {
		t.Error("anonymous nav shows log-out or admin")
	}
	if !regexp.MustCompile(`href="/" aria-current="page"`).MatchString(anon) {
		t.Error("Home not marked current on /")
	}

	user := renderErrorPage(t, Page{Path: "/creators-portal/videos/1", UserID: "u", UserEmail: "a@b.c", IsAdmin: true, CSRFToken: "tok"}, ErrorInfo{Status: 404})
	if !strings.Contains(user, `<form class="account__logout" method="post" action="/auth/log-out"><input type="hidden" name="_csrf" value="tok">`) {
		t.Errorf("log-out is not a POST form with the token first:\n%s", user)
	}
	if !strings.Contains(user, `href="/admin"`) || !strings.Contains(user, "a@b.c") || strings.Contains(user, `href="/register"`) {
		t.Error("signed-in admin nav wrong")
	}
	if !strings.Contains(user, `href="/creators-portal/" aria-current="page"`) {
		t.Error("Creators Portal not current on a sub-page")
	}
}

// A signed-in visitor of the log-in or register page is told so (with the email when known); an
// anonymous one is not.
func TestAccountPagesTellASignedInVisitor(t *testing.T) {
	render := func(c interface {
		Render(context.Context, io.Writer) error
	}) string {
		var sb strings.Builder
		if err := c.Render(context.Background(), &sb); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	signedIn := Page{Title: "x", UserID: "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11", UserEmail: "ann@example.com"}
	noEmail := Page{Title: "x", UserID: "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11"}
	anonymous := Page{Title: "x"}
	for name, page := range map[string]func(Page) string{
		"log-in":   func(p Page) string { return render(LogIn(p, LogInForm{})) },
		"register": func(p Page) string { return render(Register(p, RegisterForm{})) },
	} {
		if got := page(signedIn); !strings.Contains(got, "You are logged in as ann@example.com.") {
			t.Errorf("%s page for a signed-in user does not say so", name)
		}
		if got := page(noEmail); !strings.Contains(got, "You are logged in.") {
			t.Errorf("%s page for a signed-in user without a known email does not say so", name)
		}
		if got := page(anonymous); strings.Contains(got, "You are logged in") {
			t.Errorf("%s page tells an anonymous visitor they are logged in", name)
		}
	}
}

// Trace and user ids of messages from other Message DB clients may be any text; the admin pages link
// only UUIDs, which the trace and user pages take, and show the rest as text.
func TestAdminLinksOnlyIDsTheirPagesTake(t *testing.T) {
	const id = "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11"
	render := func(traceID, userID string) string {
		t.Helper()
		m := viewdataMessage(traceID, userID)
		var sb strings.Builder
		if err := AdminMessagePage(Page{Title: "T", Path: "/"}, m).Render(context.Background(), &sb); err != nil {
			t.Fatal(err)
		}
		if err := AdminMessagesPage(Page{Title: "T", Path: "/"}, viewdataMessages(m)).Render(context.Background(), &sb); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	page := render(id, id)
	if !strings.Contains(page, `href="/admin/traces/`+id+`"`) || !strings.Contains(page, `href="/admin/users/`+id+`"`) {
		t.Fatal("UUID trace and user ids are not linked")
	}
	page = render("trace from another client", "user-42")
	if strings.Contains(page, "/admin/traces/") || strings.Contains(page, "/admin/users/") {
		t.Fatal("a non-UUID trace or user id is linked to a page that answers 400")
	}
	if !strings.Contains(page, "trace from another client") || !strings.Contains(page, "user-42") {
		t.Fatal("non-UUID ids are not shown")
	}
}

func viewdataMessage(traceID, userID string) viewdata.AdminMessageView {
	return viewdata.AdminMessageView{GlobalPosition: 7, Position: 1, ID: "m", StreamName: "account-1", Category: "account",
		Type: "Deposited", Time: "2026-01-02 03:04:05", TraceID: traceID, UserID: userID, Data: "{}", Metadata: "{}"}
}

func viewdataMessages(m viewdata.AdminMessageView) viewdata.AdminMessagesView {
	return viewdata.AdminMessagesView{Title: "Messages", Rows: []viewdata.AdminMessageView{m}}
}
