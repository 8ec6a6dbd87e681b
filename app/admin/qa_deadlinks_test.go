package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/aggregators/adminusers"
	"videotutorials/app"
	"videotutorials/app/admin"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// The messages list links the user of every message (its metadata's userId) to that user's page. A
// user id that messages name but that never registered (a registration that identity rejected, the
// populate tool's viewings of a user whose registration lost its email, another Message DB client's
// messages) has no row in admin_users: its link must still lead to a page of its messages, not to
// a 404.
func TestUserLinkOfAnUnregisteredUserLeadsToItsMessages(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	store := f.store
	userID, traceID := uuid.NewString(), uuid.NewString()
	md := messagestore.Metadata{TraceID: traceID, UserID: userID}
	if _, err := store.Write(ctx, "identity-"+userID, messagestore.AnyVersion, messagestore.NewMessage{
		Type: "RegistrationRejected", Data: map[string]string{"userId": userID, "email": "x@example.com", "reason": "email-taken"},
		Metadata: md}); err != nil {
		t.Fatal(err)
	}
	m, err := store.LastMessage(ctx, "identity-"+userID, "")
	if err != nil {
		t.Fatal(err)
	}
	// The admin-streams aggregator indexes the message (by trace and user) for the pages.
	streams := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	if err := streams.HandleMessages(ctx, []messagestore.Message{*m}); err != nil {
		t.Fatal(err)
	}
	adm := f.client(t, f.adminID)
	st, body, _ := get(t, adm, f.srv.URL+"/admin/messages?trace="+traceID)
	if st != http.StatusOK {
		t.Fatalf("messages of the trace: %d", st)
	}
	link := "/admin/users/" + userID
	if !strings.Contains(body, `href="`+link+`"`) {
		t.Fatalf("the messages list does not link the message's user %s\n%.800s", userID, body)
	}
	st, body, _ = get(t, adm, f.srv.URL+link)
	if st != http.StatusOK {
		t.Fatalf("%s (linked from the messages list): %d, want 200", link, st)
	}
	if !strings.Contains(body, "RegistrationRejected") {
		t.Errorf("%s does not list the user's message\n%.1500s", link, body)
	}
	// A user id nothing knows is still a 404.
	if st, _, _ := get(t, adm, f.srv.URL+"/admin/users/"+uuid.NewString()); st != http.StatusNotFound {
		t.Errorf("unknown user: %d, want 404", st)
	}
}

// The system map links every category the contracts name, including those without a message yet (on
// a new install, most of them): each link must lead to the category's page, not to a 404. A category
// that no contract names and that has no message stays a 404.
func TestSystemMapLinksToCategoriesWithoutMessages(t *testing.T) {
	f := setup(t)
	fresh := "qaEmpty" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	srv := app.New(app.Deps{
		Logger:        testdb.Quiet,
		SessionSecret: []byte("0123456789abcdef0123456789abcdef-admin-test"),
		Identify: func(_ context.Context, id string) (app.Identity, error) {
			return app.Identity{Email: id + "@example.com", IsAdmin: id == f.adminID}, nil
		},
	})
	a := admin.New(admin.Deps{Views: testdb.Pool(), Store: testdb.Pool(), Head: f.store.CategoryHead,
		Contracts: func() []messagestore.Contract {
			return []messagestore.Contract{{Name: "qa-empty", Kind: "component", Owns: []string{fresh},
				Accepts: []string{fresh + ":command"}}}
		}})
	srv.Mount(a, app.ApplicationFunc(func(r app.Router) {
		r.GET("/test/sign-in/:id", func(c echo.Context) error {
			if err := app.SignIn(c, c.Param("id")); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		})
	}))
	ts := httptest.NewServer(srv.Echo())
	t.Cleanup(ts.Close)
	f.srv = ts
	adm := f.client(t, f.adminID)
	st, body, _ := get(t, adm, ts.URL+"/admin/system")
	if st != http.StatusOK {
		t.Fatalf("system map: %d", st)
	}
	links := regexp.MustCompile(`href="(/admin/categories/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(links) != 2 {
		t.Fatalf("the system map links %d categories, want 2 (%s and its inbox)", len(links), fresh)
	}
	for _, l := range links {
		st, page, _ := get(t, adm, ts.URL+l[1])
		if st != http.StatusOK {
			t.Errorf("%s (linked from the system map): %d, want 200\n%.400s", l[1], st, page)
			continue
		}
		if !strings.Contains(page, "0 messages") {
			t.Errorf("%s does not say the category has no message yet\n%.1500s", l[1], page)
		}
	}
	if st, _, _ := get(t, adm, ts.URL+"/admin/categories/nothing"+strings.ReplaceAll(uuid.NewString(), "-", "")); st != http.StatusNotFound {
		t.Errorf("a category nobody names and with no message: %d, want 404", st)
	}
}

// The user page's "more" links lead to /admin/messages?user=…; the messages page must show that
// filter in its form, or the list looks unfiltered and the next Filter silently drops the user.
func TestMessagesFilterFormKeepsTheUserFilter(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	st, body, _ := get(t, adm, f.srv.URL+"/admin/messages?category=viewing&user="+f.userID)
	if st != http.StatusOK {
		t.Fatalf("messages of the user: %d", st)
	}
	form := regexp.MustCompile(`(?s)<form class="admin-filter".*?</form>`).FindString(body)
	if !regexp.MustCompile(`<input name="user" value="` + f.userID + `"`).MatchString(form) {
		t.Errorf("the filter form does not hold the user filter:\n%s", form)
	}
	if !strings.Contains(form, `value="viewing"`) {
		t.Errorf("the filter form does not hold the category filter:\n%s", form)
	}
}

// A user registered through the site did so anonymously, so the Register command and identity's
// events carry no metadata userId, and "All messages of the user" (the messages whose metadata names
// the user) held none of them: a user who had not logged in yet showed "No messages" although their
// identity stream holds Registered and RegistrationEmailSent. The page lists the user's identity
// stream as well.
func TestUserPageShowsTheRegistrationOfAnAnonymousRegistration(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	userID, emailID := uuid.NewString(), uuid.NewString()
	email := "anon-" + userID[:8] + "@example.com"
	md := messagestore.Metadata{TraceID: uuid.NewString()} // no userId: nobody was signed in
	stream := "identity-" + userID
	for _, m := range []messagestore.NewMessage{
		{Type: "Registered", Data: map[string]string{"userId": userID, "email": email, "passwordHash": hash}, Metadata: md},
		{Type: "RegistrationEmailSent", Data: map[string]string{"userId": userID, "emailId": emailID}, Metadata: md},
	} {
		if _, err := f.store.Write(ctx, stream, messagestore.AnyVersion, m); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := f.store.ReadStream(ctx, stream, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	users := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	streams := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	for _, h := range []func(context.Context, []messagestore.Message) error{users.HandleMessages, streams.HandleMessages} {
		if err := h(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	adm := f.client(t, f.adminID)
	st, body, _ := get(t, adm, f.srv.URL+"/admin/users/"+userID)
	if st != http.StatusOK {
		t.Fatalf("user page: %d", st)
	}
	for _, typ := range []string{"Registered", "RegistrationEmailSent"} {
		if !strings.Contains(body, `href="/admin/types/`+typ+`"`) {
			t.Errorf("the user page does not list the user's %s", typ)
		}
	}
	if strings.Contains(body, "$2a$") {
		t.Error("the user page shows the password hash")
	}
}
