package registerusers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/registerusers"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

type fixture struct {
	b     *apptest.Browser
	store *messagestore.Store
	views pgx.Tx
}

// setup serves the application with the credentials view in a transaction that is rolled back, so
// that tests can claim emails without leaving rows behind.
func setup(t *testing.T) *fixture {
	t.Helper()
	store := testdb.NewStore(t)
	tx := testdb.NewTx(t)
	srv := apptest.NewServer(t, app.Deps{}, registerusers.New(registerusers.Deps{
		Store: store, Views: tx, Logger: testdb.Quiet, BcryptCost: bcrypt.MinCost,
	}))
	return &fixture{b: apptest.NewBrowser(t, srv), store: store, views: tx}
}

// claim puts a registered user with email into the credentials view.
func (f *fixture) claim(t *testing.T, email string) {
	t.Helper()
	if _, err := f.views.Exec(context.Background(),
		`INSERT INTO user_credentials (id, email, password_hash, position) VALUES ($1, $2, 'x', 9000000000000)`,
		uuid.NewString(), email); err != nil {
		t.Fatal(err)
	}
}

var userIDField = regexp.MustCompile(`name="userId" value="([^"]*)"`)

// form loads the registration form and returns its user id.
func (f *fixture) form(t *testing.T) string {
	t.Helper()
	rec := f.b.Get(registerusers.RegisterPath)
	apptest.WantStatus(t, rec, http.StatusOK)
	m := userIDField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no userId field:\n%s", rec.Body.String())
	}
	return m[1]
}

func (f *fixture) register(userID, email, password string) *httptest.ResponseRecorder {
	return f.b.Submit(registerusers.RegisterPath, registerusers.RegisterPath, url.Values{
		"userId": {userID}, "email": {email}, "password": {password},
	})
}

func freshEmail() string { return "user-" + uuid.NewString()[:13] + "@example.com" }

func TestRegistrationForm(t *testing.T) {
	f := setup(t)
	rec := f.b.Get(registerusers.RegisterPath)
	apptest.WantStatus(t, rec, http.StatusOK)
	page := rec.Body.String()
	for _, want := range []string{
		`<form class="form" method="post" action="/register"><input type="hidden" name="_csrf"`,
		`<label for="email">Email</label>`, `id="email" name="email" type="email"`, `autocomplete="email"`,
		`<label for="password">Password</label>`, `type="password"`, `autocomplete="new-password"`,
		`minlength="8"`, `maxlength="72"`, `href="/auth/log-in"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q: a cached form would reuse its user id", rec.Header().Get("Cache-Control"))
	}
	first, second := f.form(t), f.form(t)
	if _, err := uuid.Parse(first); err != nil || first == second {
		t.Fatalf("user ids %q and %q: want a fresh UUID per form", first, second)
	}
}

func TestRegisterSendsTheCommand(t *testing.T) {
	f := setup(t)
	userID := f.form(t)
	rec := f.register(userID, "  New.User@Example.COM ", "correct horse")
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != registerusers.CompletePath {
		t.Fatalf("Location %q", loc)
	}
	msgs := testdb.ReadStream(t, f.store, identitymsg.CommandStreamName(userID))
	if len(msgs) != 1 || msgs[0].Type != "Register" {
		t.Fatalf("command stream holds %+v", msgs)
	}
	var cmd identitymsg.Register
	if err := msgs[0].Decode(&cmd); err != nil {
		t.Fatal(err)
	}
	if cmd.UserID != userID || cmd.Email != "new.user@example.com" {
		t.Errorf("command %+v", cmd)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(cmd.PasswordHash), []byte("correct horse")); err != nil {
		t.Errorf("password hash does not verify: %v", err)
	}
	if strings.Contains(string(msgs[0].Data), "correct horse") {
		t.Error("the password is stored in clear")
	}
	if md := msgs[0].Metadata; md.TraceID != rec.Header().Get(app.HeaderTraceID) || md.UserID != "" {
		t.Errorf("metadata %+v", md)
	}

	complete := f.b.Get(registerusers.CompletePath)
	apptest.WantStatus(t, complete, http.StatusOK)
	if !strings.Contains(complete.Body.String(), "log in") {
		t.Error("completion page does not say what comes next")
	}
}

func TestRegisterUsesTheDefaultBcryptCost(t *testing.T) {
	store := testdb.NewStore(t)
	srv := apptest.NewServer(t, app.Deps{}, registerusers.New(registerusers.Deps{Store: store, Views: testdb.NewPool(t), Logger: testdb.Quiet}))
	f := &fixture{b: apptest.NewBrowser(t, srv), store: store}
	userID := f.form(t)
	apptest.WantStatus(t, f.register(userID, freshEmail(), "password1"), http.StatusSeeOther)
	var cmd identitymsg.Register
	if err := testdb.ReadStream(t, store, identitymsg.CommandStreamName(userID))[0].Decode(&cmd); err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(cmd.PasswordHash)); err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("cost %d, %v", cost, err)
	}
}

func TestSubmittingTheSameFormTwiceSendsOneCommand(t *testing.T) {
	f := setup(t)
	userID := f.form(t)
	email := freshEmail()
	apptest.WantStatus(t, f.register(userID, email, "password1"), http.StatusSeeOther)
	rec := f.register(userID, email, "password1")
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != registerusers.CompletePath {
		t.Fatalf("Location %q", loc)
	}
	if n := len(testdb.ReadStream(t, f.store, identitymsg.CommandStreamName(userID))); n != 1 {
		t.Fatalf("%d commands", n)
	}
}

func TestRegisterValidatesAndKeepsTheEmail(t *testing.T) {
	f := setup(t)
	taken := freshEmail()
	f.claim(t, taken)
	cases := []struct {
		name, email, password string
		emailErr, passwordErr string
	}{
		{"missing email", "", "password1", "Enter your email address.", ""},
		{"blank email", "   ", "password1", "Enter your email address.", ""},
		{"invalid email", "not-an-email", "password1", "Enter a valid email address", ""},
		{"display name form", "Bob <bob@example.com>", "password1", "Enter a valid email address", ""},
		{"two addresses", "a@example.com, b@example.com", "password1", "Enter a valid email address", ""},
		{"overlong email", strings.Repeat("a", 250) + "@example.com", "password1", "Enter a valid email address", ""},
		{"missing password", freshEmail(), "", "", "Enter a password."},
		{"short password", freshEmail(), "1234567", "", "Use at least 8 characters."},
		{"long password", freshEmail(), strings.Repeat("p", 73), "", "Use at most 72 bytes"},
		{"long password in bytes", freshEmail(), strings.Repeat("é", 37), "", "Use at most 72 bytes"},
		{"taken email", strings.ToUpper(taken), "password1", "already registered", ""},
		{"both wrong", "nope", "short", "Enter a valid email address", "Use at least 8 characters."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			userID := f.form(t)
			rec := f.register(userID, tc.email, tc.password)
			apptest.WantStatus(t, rec, http.StatusBadRequest)
			page := rec.Body.String()
			check := func(field, want string) {
				t.Helper()
				re := regexp.MustCompile(`<p id="` + field + `-error" class="field__error">([^<]*)</p>`)
				m := re.FindStringSubmatch(page)
				switch {
				case want == "" && m != nil:
					t.Errorf("%s: unexpected error %q", field, m[1])
				case want != "" && (m == nil || !strings.Contains(m[1], want)):
					t.Errorf("%s: error %q, want %q", field, m, want)
				case want != "" && !strings.Contains(page, `aria-describedby="`) || want != "" && !strings.Contains(page, `aria-invalid="true"`):
					t.Errorf("%s: the error is not tied to the input", field)
				}
			}
			check("email", tc.emailErr)
			check("password", tc.passwordErr)
			if tc.password != "" && strings.Contains(page, tc.password) {
				t.Error("the password is sent back")
			}
			if !strings.Contains(page, `name="userId" value="`+userID+`"`) {
				t.Error("the form lost its user id")
			}
			if tc.emailErr == "" && !strings.Contains(page, `value="`+strings.ToLower(strings.TrimSpace(tc.email))+`"`) {
				t.Error("the email is not kept")
			}
			if n := len(testdb.ReadStream(t, f.store, identitymsg.CommandStreamName(userID))); n != 0 {
				t.Errorf("%d commands written for an invalid form", n)
			}
		})
	}
	t.Run("taken email links to log-in", func(t *testing.T) {
		rec := f.register(f.form(t), taken, "password1")
		if !strings.Contains(rec.Body.String(), `href="/auth/log-in?email=`+url.QueryEscape(taken)+`"`) {
			t.Errorf("no log-in link with the email:\n%s", rec.Body.String())
		}
	})
	t.Run("exactly 72 bytes is fine", func(t *testing.T) {
		apptest.WantStatus(t, f.register(f.form(t), freshEmail(), strings.Repeat("p", 72)), http.StatusSeeOther)
	})
}

func TestRegisterRefusesBadRequests(t *testing.T) {
	f := setup(t)
	for name, userID := range map[string]string{
		"missing user id":  "",
		"non-UUID user id": "12345",
		"braced user id":   "{" + uuid.NewString() + "}",
		"urn user id":      "urn:uuid:" + uuid.NewString(),
		"SQL in user id":   "' OR 1=1 --",
	} {
		t.Run(name, func(t *testing.T) {
			apptest.WantStatus(t, f.register(userID, freshEmail(), "password1"), http.StatusBadRequest)
		})
	}
	t.Run("no CSRF token", func(t *testing.T) {
		f.form(t)
		rec := f.b.Post(registerusers.RegisterPath, url.Values{"userId": {uuid.NewString()}, "email": {freshEmail()}, "password": {"password1"}})
		apptest.WantStatus(t, rec, http.StatusForbidden)
	})
	t.Run("oversized body", func(t *testing.T) {
		rec := f.b.Submit(registerusers.RegisterPath, registerusers.RegisterPath, url.Values{
			"userId": {uuid.NewString()}, "email": {freshEmail()}, "password": {strings.Repeat("p", 2<<20)},
		})
		apptest.WantStatus(t, rec, http.StatusRequestEntityTooLarge)
	})
	t.Run("GET of the completion page needs nothing", func(t *testing.T) {
		apptest.WantStatus(t, apptest.NewBrowser(t, f.b.Server).Get(registerusers.CompletePath), http.StatusOK)
	})
}
