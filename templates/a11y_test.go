package templates

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"videotutorials/viewdata"
)

func renderComponent(t *testing.T, c templ.Component) string {
	t.Helper()
	var sb strings.Builder
	if err := c.Render(context.Background(), &sb); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// everyPage renders every page of the site with sample data: each one in the states that change its
// structure (empty, with rows, with form errors).
func everyPage(t *testing.T) map[string]string {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const id = "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11"
	user := Page{Title: "T", Path: "/", UserID: id, UserEmail: "ann@example.com", IsAdmin: true, CSRFToken: "tok", TraceID: "trace"}
	anon := Page{Title: "T", Path: "/", CSRFToken: "tok"}
	video := viewdata.CreatorsVideo{ID: id, OwnerID: id, Name: "Intro", Description: "About it", Views: 3,
		TranscodedURI: "file:videos/x.mp4", PosterURI: "file:posters/x.jpg", Status: viewdata.VideoStatusPublished}
	failed := viewdata.CreatorsVideo{ID: "7f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11", Status: viewdata.VideoStatusFailed, FailureReason: "not a video"}
	msg := viewdata.AdminMessageView{GlobalPosition: 7, Position: 1, ID: id, StreamName: "identity-" + id, Category: "identity",
		Type: "Registered", Time: "2026-01-02 03:04:05", TraceID: id, UserID: id, Data: "{}", Metadata: "{}", SincePrevious: "1ms"}
	rows := []viewdata.AdminMessageView{msg}
	adminUser := viewdata.AdminUser{ID: id, Email: "ann@example.com", RegisteredAt: &now, LoginCount: 2, LastLoginAt: &now}
	stream := viewdata.AdminStream{StreamName: "identity-" + id, Category: "identity", MessageCount: 2, LastMessageType: "Registered", LastMessageTime: now}
	pages := map[string]templ.Component{
		"home":                   Home(anon, HomeView{VideosWatched: 2, RecordViewingURL: "/record-viewing/x", LiveURL: "/live/home", Videos: []viewdata.CreatorsVideo{video}}),
		"home empty":             Home(anon, HomeView{RecordViewingURL: "/record-viewing/x"}),
		"register":               Register(anon, RegisterForm{UserID: id, LoginURL: "/auth/log-in"}),
		"register errors":        Register(anon, RegisterForm{UserID: id, Email: "x", EmailError: "Enter a valid email.", PasswordError: "Too short.", LoginURL: "/auth/log-in"}),
		"registration complete":  RegistrationComplete(anon, RegistrationCompleteView{}),
		"registration done":      RegistrationComplete(anon, RegistrationCompleteView{State: RegistrationDone}),
		"registration rejected":  RegistrationComplete(anon, RegistrationCompleteView{State: RegistrationRejected, Reason: "This email address is already registered."}),
		"log in":                 LogIn(anon, LogInForm{Next: "/creators-portal/"}),
		"log in failed":          LogIn(anon, LogInForm{Email: "a@b.c", Error: "Incorrect email or password."}),
		"log in field errors":    LogIn(user, LogInForm{EmailError: "Enter your email address.", PasswordError: "Enter your password."}),
		"dashboard":              CreatorsDashboard(user, CreatorsDashboardView{Videos: []viewdata.CreatorsVideo{video, failed}, JustUploaded: "8f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11", UploadURL: "/u", MaxUploadBytes: 1 << 20, LiveURL: "/l", OlderURL: "/o", LatestURL: "/n"}),
		"dashboard upload error": CreatorsDashboard(user, CreatorsDashboardView{UploadURL: "/u", UploadError: "Not a video."}),
		"video":                  CreatorsVideoPage(user, CreatorsVideoView{Video: video, FileURL: "/f", PosterURL: "/p", WatchURL: "/w", NameURL: "/n", DescribeURL: "/d", MaxName: 255, MaxDescription: 5000, LiveURL: "/l"}),
		"video failed":           CreatorsVideoPage(user, CreatorsVideoView{Video: failed}),
		"operation pending":      VideoOperation(user, VideoOperationView{Pending: true, SelfURL: "/s", LiveURL: "/l"}),
		"operation rejected":     VideoOperation(user, VideoOperationView{Kind: viewdata.VideoOperationName, Reason: "blank", VideoURL: "/v"}),
		"watch":                  Watch(anon, WatchView{Video: video, FileURL: "/f", FileType: "video/mp4", PosterURL: "/p", RecordViewingURL: "/r"}),
		"error":                  ErrorPage(anon, ErrorInfo{Status: 401}),
		"admin messages":         AdminMessagesPage(user, viewdata.AdminMessagesView{Rows: rows, Summary: "1 message", NextURL: "/n"}),
		"admin messages empty":   AdminMessagesPage(user, viewdata.AdminMessagesView{}),
		"admin trace":            AdminTracePage(user, viewdata.AdminMessagesView{Rows: rows}),
		"admin message":          AdminMessagePage(user, msg),
		"admin users":            AdminUsersPage(user, viewdata.AdminUsersView{Users: []viewdata.AdminUser{adminUser}}),
		"admin user":             AdminUserPage(user, viewdata.AdminUserView{User: adminUser, Logins: rows, Viewings: rows, Messages: rows}, AdminUserRegistration{Stream: "identity-" + adminUser.ID, Messages: rows}),
		"admin streams":          AdminStreamsPage(user, viewdata.AdminStreamsView{Category: &viewdata.AdminCategory{Category: "identity"}, Streams: []viewdata.AdminStream{stream}}),
		"admin stream":           AdminStreamPage(user, viewdata.AdminStreamView{Stream: stream, Messages: viewdata.AdminMessagesView{Rows: rows}}),
		"admin categories":       AdminCategoriesPage(user, viewdata.AdminCategoriesView{Categories: []viewdata.AdminCategory{{Category: "identity"}}}),
		"admin positions":        AdminPositionsPage(user, viewdata.AdminPositionsView{Positions: []viewdata.AdminSubscriberPosition{{SubscriberID: "s", UpdatedAt: now}}}),
		"admin subscriptions":    AdminSubscriptionsPage(user, []viewdata.AdminSubscriptionView{{SubscriberID: "s", Category: "c", State: "running", LastError: "boom", CanRetry: true}}),
		"admin no subscriptions": AdminSubscriptionsPage(user, nil),
		"admin system": AdminSystemPage(user, viewdata.AdminSystemView{
			Categories: []viewdata.AdminSystemCategory{{Category: "identity"}},
			Services:   []viewdata.AdminSystemService{{Name: "identity"}},
		}),
	}
	out := make(map[string]string, len(pages))
	for name, c := range pages {
		out[name] = renderComponent(t, c)
	}
	return out
}

var (
	idAttr     = regexp.MustCompile(`\sid="([^"]*)"`)
	idRefAttr  = regexp.MustCompile(`\s(?:aria-labelledby|aria-describedby|for)="([^"]*)"`)
	headingTag = regexp.MustCompile(`<h([1-6])[\s>]`)
	thTag      = regexp.MustCompile(`<th[\s>][^>]*>|<th>`)
	tableTag   = regexp.MustCompile(`<table[^>]*>`)
	controlTag = regexp.MustCompile(`<(?:input|select|textarea)\s[^>]*>`)
)

// TestEveryPageIsWellFormedForAssistiveTechnology checks, on every page, what a screen reader relies
// on: one h1 and no skipped heading level, unique ids, every id reference (label for,
// aria-labelledby, aria-describedby) pointing at an element that exists, every form control
// labelled, every table named and its header cells scoped, and the document language.
func TestEveryPageIsWellFormedForAssistiveTechnology(t *testing.T) {
	for name, html := range everyPage(t) {
		if !strings.Contains(html, `<html lang="en">`) {
			t.Errorf("%s: no lang on <html>", name)
		}
		levels := headingTag.FindAllStringSubmatch(html, -1)
		if n := strings.Count(html, "<h1"); n != 1 {
			t.Errorf("%s: %d h1 elements", name, n)
		}
		prev := 0
		for _, l := range levels {
			level := int(l[1][0] - '0')
			if prev == 0 && level != 1 || prev != 0 && level > prev+1 {
				t.Errorf("%s: h%d follows h%d", name, level, prev)
			}
			prev = level
		}
		ids := map[string]int{}
		for _, m := range idAttr.FindAllStringSubmatch(html, -1) {
			ids[m[1]]++
		}
		for id, n := range ids {
			if n > 1 {
				t.Errorf("%s: id %q is used %d times", name, id, n)
			}
		}
		for _, m := range idRefAttr.FindAllStringSubmatch(html, -1) {
			for _, ref := range strings.Fields(m[1]) {
				if ids[ref] == 0 {
					t.Errorf("%s: %s refers to a missing id %q", name, strings.TrimSpace(m[0]), ref)
				}
			}
		}
		for _, c := range controlTag.FindAllString(html, -1) {
			if strings.Contains(c, `type="hidden"`) || strings.Contains(c, "aria-label") {
				continue
			}
			m := regexp.MustCompile(`\sid="([^"]*)"`).FindStringSubmatch(c)
			if m != nil && strings.Contains(html, `for="`+m[1]+`"`) {
				continue
			}
			if regexp.MustCompile(`<label>[^<]*` + regexp.QuoteMeta(c)).MatchString(html) {
				continue
			}
			t.Errorf("%s: control without a label: %s", name, c)
		}
		for _, th := range thTag.FindAllString(html, -1) {
			if !strings.Contains(th, `scope="`) {
				t.Errorf("%s: header cell without scope: %s", name, th)
			}
		}
		for _, table := range tableTag.FindAllString(html, -1) {
			if !strings.Contains(table, "aria-labelledby=") && !strings.Contains(html, "<caption") {
				t.Errorf("%s: table without a name: %s", name, table)
			}
		}
	}
}

// A form re-rendered with errors says so in the title, summarises them above the form with links to
// the fields, and ties each message to its field.
func TestFormErrorsAreSummarisedAndTiedToTheirFields(t *testing.T) {
	pages := everyPage(t)
	reg := pages["register errors"]
	for _, w := range []string{
		"<title>Error: T · Video Tutorials</title>",
		`<div id="register-errors" class="form-error" role="alert">`,
		`<li><a href="#email">Enter a valid email.</a></li>`,
		`<li><a href="#password">Too short.</a></li>`,
		`aria-describedby="email-error" aria-invalid="true"`,
		`aria-describedby="password-hint password-error" aria-invalid="true"`,
	} {
		if !strings.Contains(reg, w) {
			t.Errorf("register page with errors lacks %s", w)
		}
	}
	if ok := pages["register"]; strings.Contains(ok, "Error:") || strings.Contains(ok, "form-error") || strings.Contains(ok, "aria-invalid") {
		t.Error("register page without errors shows an error")
	}

	failed := pages["log in failed"]
	for _, w := range []string{"<title>Error: T · Video Tutorials</title>", `id="email" name="email" type="email"`,
		`aria-describedby="login-error"`} {
		if !strings.Contains(failed, w) {
			t.Errorf("failed log-in page lacks %s", w)
		}
	}
	if n := strings.Count(failed, `aria-describedby="login-error"`); n != 2 {
		t.Errorf("the failed attempt's message describes %d fields, want both", n)
	}
	if strings.Contains(failed, "aria-invalid") {
		t.Error("a failed attempt marks a field invalid although it cannot say which one was wrong")
	}
	fields := pages["log in field errors"]
	for _, w := range []string{`<li><a href="#email">Enter your email address.</a></li>`, `<li><a href="#password">Enter your password.</a></li>`} {
		if !strings.Contains(fields, w) {
			t.Errorf("log-in page with field errors lacks %s", w)
		}
	}
	if strings.Contains(pages["log in"], "Error:") {
		t.Error("log-in page without errors has an error title")
	}
}

// What updates in place is a live region, so that screen readers hear it; media have a name.
func TestLiveRegionsAndMediaNames(t *testing.T) {
	pages := everyPage(t)
	for page, wants := range map[string][]string{
		"home":                {`<p class="home-counter__text" aria-live="polite" aria-atomic="true">`},
		"operation pending":   {`aria-live="polite"`},
		"dashboard":           {`<span class="creators-video__status" aria-live="polite" aria-atomic="true"><span class="sr-only"><span data-live-field="6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11.name">Intro</span>: </span>`},
		"video":               {`data-live-field="6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11.status" aria-live="polite"`, `id="video-player" class="watch__player" aria-labelledby="video-heading"`},
		"watch":               {`id="watch-player" class="watch__player" aria-labelledby="watch-heading"`},
		"admin subscriptions": {`data-live-field="s.state" aria-live="polite"`, `data-live-field="s.lag" aria-live="polite"`},
	} {
		for _, w := range wants {
			if !strings.Contains(pages[page], w) {
				t.Errorf("%s page lacks %s", page, w)
			}
		}
	}
	if strings.Contains(pages["admin subscriptions"], `data-live-field="s.position" aria-live`) {
		t.Error("the subscriptions' positions, which change with every message, are a live region")
	}
}

// The admin navigation marks the section of the page, the front door counting as Users; the
// header's Register and Log in links mark their own pages.
func TestCurrentPageIsMarked(t *testing.T) {
	for path, want := range map[string]string{
		"/admin":                        "/admin/users",
		"/admin/":                       "/admin/users",
		"/admin/users/x":                "/admin/users",
		"/admin/streams/identity-1":     "/admin/streams",
		"/admin/subscriber-positions":   "/admin/subscriber-positions",
		"/admin/subscriptions":          "/admin/subscriptions",
		"/admin/categories/videoPublis": "/admin/categories",
	} {
		html := renderComponent(t, AdminUsersPage(Page{Title: "Users", Path: path, UserID: "u", IsAdmin: true}, viewdata.AdminUsersView{}))
		current := regexp.MustCompile(`<nav class="admin-nav"[^>]*>.*?</nav>`).FindString(html)
		if got := regexp.MustCompile(`href="([^"]*)" aria-current="page"`).FindAllStringSubmatch(current, -1); len(got) != 1 || got[0][1] != want {
			t.Errorf("on %s the admin navigation marks %v, want %s", path, got, want)
		}
	}
	for path, want := range map[string]string{"/register": `href="/register" aria-current="page"`, "/auth/log-in": `href="/auth/log-in" aria-current="page"`} {
		if html := renderErrorPage(t, Page{Path: path}, ErrorInfo{Status: 404}); !strings.Contains(html, want) {
			t.Errorf("on %s the header lacks %s", path, want)
		}
	}
	if html := renderErrorPage(t, Page{Path: "/"}, ErrorInfo{Status: 404}); strings.Count(html, `aria-current="page"`) != 1 {
		t.Error("on the home page more than Home is marked current")
	}
}
