package registerusers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
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
	if loc := rec.Header().Get("Location"); loc != registerusers.CompletePath+"?user="+userID {
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
	if loc := rec.Header().Get("Location"); loc != registerusers.CompletePath+"?user="+userID {
		t.Fatalf("Location %q", loc)
	}
	if n := len(testdb.ReadStream(t, f.store, identitymsg.CommandStreamName(userID))); n != 1 {
		t.Fatalf("%d commands", n)
	}
}

// emailError is the message next to the email field of a rendered form, or "".
func emailError(page string) string {
	m := regexp.MustCompile(`<p id="email-error" class="field__error">([^<]*)</p>`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// commandEmails returns the emails of the commands in the user's command stream.
func (f *fixture) commandEmails(t *testing.T, userID string) []string {
	t.Helper()
	var emails []string
	for _, m := range testdb.ReadStream(t, f.store, identitymsg.CommandStreamName(userID)) {
		var cmd identitymsg.Register
		if err := m.Decode(&cmd); err != nil {
			t.Fatal(err)
		}
		emails = append(emails, cmd.Email)
	}
	return emails
}

func TestResubmittingTheFormWithTheSameEmail(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name     string
		again    func(first string) string
		caughtUp bool // the credentials view already holds the first registration
	}{
		{"double click", func(first string) string { return first }, false},
		{"same email typed differently", func(first string) string { return "  " + strings.ToUpper(first) + " " }, false},
		{"after identity registered the user", func(first string) string { return first }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := freshEmail()
			again := tc.again(first)
			userID := f.form(t)
			apptest.WantStatus(t, f.register(userID, first, "password1"), http.StatusSeeOther)
			if tc.caughtUp {
				f.claim(t, first)
			}
			rec := f.register(userID, again, "password1")
			apptest.WantStatus(t, rec, http.StatusSeeOther)
			if loc := rec.Header().Get("Location"); loc != registerusers.CompletePath+"?user="+userID {
				t.Fatalf("Location %q", loc)
			}
			if emails := f.commandEmails(t, userID); len(emails) != 1 || emails[0] != first {
				t.Fatalf("commands for %v, want one for %s", emails, first)
			}
		})
	}
}

func TestReusingTheFormForAnotherEmailIsRefused(t *testing.T) {
	f := setup(t)
	userID := f.form(t)
	first, second := freshEmail(), freshEmail()
	apptest.WantStatus(t, f.register(userID, first, "password1"), http.StatusSeeOther)

	rec := f.register(userID, second, "other secret")
	apptest.WantStatus(t, rec, http.StatusConflict)
	page := rec.Body.String()
	if msg := emailError(page); msg != "This form was already used. Please register again." {
		t.Errorf("email error %q", msg)
	}
	if emails := f.commandEmails(t, userID); len(emails) != 1 || emails[0] != first {
		t.Fatalf("commands for %v, want only the first registration's", emails)
	}
	if strings.Contains(page, "other secret") {
		t.Error("the password is sent back")
	}
	if !strings.Contains(page, `value="`+second+`"`) {
		t.Error("the email is not kept")
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
	m := userIDField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no userId field:\n%s", page)
	}
	fresh := m[1]
	if _, err := uuid.Parse(fresh); err != nil || fresh == userID {
		t.Fatalf("re-rendered user id %q (was %q): want a fresh UUID", fresh, userID)
	}
	if n := len(f.commandEmails(t, fresh)); n != 0 {
		t.Fatalf("%d commands for the fresh user id before it is submitted", n)
	}

	// Submitting the re-rendered form registers the second person.
	apptest.WantStatus(t, f.register(fresh, second, "other secret"), http.StatusSeeOther)
	if emails := f.commandEmails(t, fresh); len(emails) != 1 || emails[0] != second {
		t.Fatalf("commands for %v, want one for %s", emails, second)
	}
	if emails := f.commandEmails(t, userID); len(emails) != 1 {
		t.Fatalf("the first form's stream now holds %v", emails)
	}
}

func TestAUsedUserIDWhoseRegistrationCannotBeReadIsRefused(t *testing.T) {
	f := setup(t)
	for name, msg := range map[string]messagestore.NewMessage{
		"not a Register":            {Type: "SomethingElse", Data: map[string]string{"email": "x@example.com"}},
		"undecodable Register":      {Type: "Register", Data: json.RawMessage(`"not an object"`)},
		"Register without an email": {Type: "Register", Data: map[string]string{"userId": "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			userID := f.form(t)
			stream := identitymsg.CommandStreamName(userID)
			if _, err := f.store.Write(context.Background(), stream, messagestore.NoStream, msg); err != nil {
				t.Fatal(err)
			}
			rec := f.register(userID, freshEmail(), "password1")
			apptest.WantStatus(t, rec, http.StatusConflict)
			if msg := emailError(rec.Body.String()); !strings.Contains(msg, "already used") {
				t.Errorf("email error %q", msg)
			}
			if n := len(testdb.ReadStream(t, f.store, stream)); n != 1 {
				t.Fatalf("%d messages in %s, want the one written before", n, stream)
			}
		})
	}
}

// Two submissions of one form at the same moment both find the stream empty; one write wins, and the
// other is decided on what the winner wrote.
func TestSimultaneousSubmissionsOfOneForm(t *testing.T) {
	store := testdb.NewStore(t)
	srv := apptest.NewServer(t, app.Deps{}, registerusers.New(registerusers.Deps{
		Store: store, Views: testdb.NewPool(t), Logger: testdb.Quiet, BcryptCost: bcrypt.MinCost,
	}))
	f := &fixture{b: apptest.NewBrowser(t, srv), store: store}
	submit := func(userIDs []string, emails []string) []int {
		var (
			wg    sync.WaitGroup
			codes = make([]int, len(emails))
		)
		for i, email := range emails {
			b := apptest.NewBrowser(t, srv)
			b.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+10)
			form := url.Values{"userId": {userIDs[i]}, "email": {email}, "password": {"password1"},
				"_csrf": {b.CSRF(registerusers.RegisterPath)}}
			wg.Go(func() { codes[i] = b.Post(registerusers.RegisterPath, form).Code })
		}
		wg.Wait()
		return codes
	}
	for round := range 10 {
		userID := f.form(t)
		same := freshEmail()
		if codes := submit([]string{userID, userID}, []string{same, same}); codes[0] != http.StatusSeeOther || codes[1] != http.StatusSeeOther {
			t.Fatalf("round %d, same email: statuses %v, want both 303", round, codes)
		}
		if emails := f.commandEmails(t, userID); len(emails) != 1 {
			t.Fatalf("round %d, same email: commands for %v", round, emails)
		}

		userID = f.form(t)
		emails := []string{freshEmail(), freshEmail()}
		codes := submit([]string{userID, userID}, emails)
		slices.Sort(codes)
		if codes[0] != http.StatusSeeOther || codes[1] != http.StatusConflict {
			t.Fatalf("round %d, two emails: statuses %v, want one 303 and one 409", round, codes)
		}
		if written := f.commandEmails(t, userID); len(written) != 1 || !slices.Contains(emails, written[0]) {
			t.Fatalf("round %d, two emails: commands for %v", round, written)
		}
	}
}

func TestRegisterAcceptsGoodEmails(t *testing.T) {
	f := setup(t)
	id := func() string { return uuid.NewString()[:8] }
	label63 := strings.Repeat("x", 63)
	exactly254 := strings.Repeat("a", 254-len("@example.com")-8) + id() + "@example.com"
	for _, tc := range []struct{ name, email string }{
		{"plain", "user-" + id() + "@example.com"},
		{"dots and plus", "first.last+tag-" + id() + "@example.com"},
		{"apostrophe", "o'brien-" + id() + "@example.com"},
		{"subdomains", "user-" + id() + "@mail.sub.example.co.uk"},
		{"hyphen and digits inside labels", "user-" + id() + "@a-b.123.example"},
		{"upper case and spaces", "  User-X" + id() + "@Example.COM "},
		{"international", "jörg-" + id() + "@exämple.com"},
		{"international upper case", "JÖRG-" + id() + "@EXÄMPLE.COM"},
		{"other scripts", "ü-" + id() + "@例え.jp"},
		{"combining marks", "user-" + id() + "@नमस्ते.example"},
		{"punycode", "user-" + id() + "@xn--exmple-cua.com"},
		{"63-byte label", "user-" + id() + "@" + label63 + ".com"},
		{"exactly 254 bytes", exactly254},
	} {
		t.Run(tc.name, func(t *testing.T) {
			userID := f.form(t)
			rec := f.register(userID, tc.email, "password1")
			apptest.WantStatus(t, rec, http.StatusSeeOther)
			want := strings.ToLower(strings.TrimSpace(tc.email))
			if emails := f.commandEmails(t, userID); len(emails) != 1 || emails[0] != want {
				t.Fatalf("commands for %v, want one for %q", emails, want)
			}
		})
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
		{"overlong email", strings.Repeat("a", 243) + "@example.com", "password1", "Email addresses are at most 254 characters.", ""},
		{"much too long email", strings.Repeat("a", 5000) + "@example.com", "password1", "Email addresses are at most 254 characters.", ""},
		{"invalid UTF-8", "a\xffb@example.com", "password1", "Enter a valid email address", ""},
		{"invalid UTF-8 in the domain", "ab@ex\xc3ample.com", "password1", "Enter a valid email address", ""},
		{"NUL", "a\x00b@example.com", "password1", "Enter a valid email address", ""},
		{"tab inside", "a\tb@example.com", "password1", "Enter a valid email address", ""},
		{"DEL", "a\x7fb@example.com", "password1", "Enter a valid email address", ""},
		{"C1 control", "a\u0085b@example.com", "password1", "Enter a valid email address", ""},
		{"control in a quoted local part", "\"a\x01b\"@example.com", "password1", "Enter a valid email address", ""},
		{"domain without a dot", "x@y", "password1", "Enter a valid email address", ""},
		{"localhost", "root@localhost", "password1", "Enter a valid email address", ""},
		{"label starting with a hyphen", "a@-example.com", "password1", "Enter a valid email address", ""},
		{"label ending with a hyphen", "a@example-.com", "password1", "Enter a valid email address", ""},
		{"top-level label with a hyphen", "a@example.-com", "password1", "Enter a valid email address", ""},
		{"empty label", "a@example..com", "password1", "Enter a valid email address", ""},
		{"leading dot", "a@.example.com", "password1", "Enter a valid email address", ""},
		{"trailing dot", "a@example.com.", "password1", "Enter a valid email address", ""},
		{"64-byte label", "a@" + strings.Repeat("x", 64) + ".com", "password1", "Enter a valid email address", ""},
		{"64-byte international label", "a@" + strings.Repeat("ä", 32) + ".com", "password1", "Enter a valid email address", ""},
		{"domain literal", "a@[192.0.2.1]", "password1", "Enter a valid email address", ""},
		{"punctuation in the domain", "a@ex!ample.com", "password1", "Enter a valid email address", ""},
		{"missing password", freshEmail(), "", "", "Enter a password."},
		{"short password", freshEmail(), "1234567", "", "Use at least 8 characters."},
		{"long password", freshEmail(), strings.Repeat("p", 73), "", "Use at most 72 bytes"},
		{"long password in bytes", freshEmail(), strings.Repeat("é", 37), "", "Use at most 72 bytes"},
		{"taken email", strings.ToUpper(taken), "password1", "already registered", ""},
		{"both wrong", "nope", "short", "Enter a valid email address", "Use at least 8 characters."},
		{"taken email and short password", taken, "short", "already registered", "Use at least 8 characters."},
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

// A form body that cannot be read (a broken escape, a multipart body cut short) is the client's
// mistake — a 400 — even when the token travels in the header and the shell has not read the body.
func TestRegisterRefusesUnreadableFormsWith400(t *testing.T) {
	f := setup(t)
	token := f.b.CSRF(registerusers.RegisterPath)
	for name, body := range map[string]struct{ contentType, body string }{
		"broken escape":       {"application/x-www-form-urlencoded", "userId=" + uuid.NewString() + "&email=%zz&password=password1"},
		"multipart cut short": {"multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nabc"},
		"no boundary":         {"multipart/form-data", "x"},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, registerusers.RegisterPath, strings.NewReader(body.body))
			req.Header.Set("Content-Type", body.contentType)
			req.Header.Set(app.CSRFHeader, token)
			apptest.WantStatus(t, f.b.Do(req), http.StatusBadRequest)
		})
	}
}

// The page after POST /register follows the registration: pending (reloading itself) until the
// credentials view has it, then ready to log in; a registration that lost its email to another made at
// the same moment is told so instead of thanked.
func TestRegistrationCompleteTellsWhatBecameOfTheRegistration(t *testing.T) {
	f := setup(t)
	pending, done, lost := uuid.NewString(), uuid.NewString(), uuid.NewString()
	// The pending registration was sent: its command is in the store (a user id that no registration
	// used is not pending but unknown, TestRegistrationCompleteOfNoRegistrationIsNotFound).
	if _, err := f.store.Write(context.Background(), identitymsg.CommandStreamName(pending), messagestore.NoStream,
		messagestore.NewEvent(identitymsg.Register{UserID: pending, Email: freshEmail(), PasswordHash: "x"}, messagestore.Metadata{})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.views.Exec(context.Background(),
		`INSERT INTO user_credentials (id, email, password_hash, position) VALUES ($1, $2, 'x', 9000000000001)`,
		done, freshEmail()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.views.Exec(context.Background(),
		`INSERT INTO registration_rejections (user_id, reason, position) VALUES ($1, $2, 9000000000002)`,
		lost, identitymsg.ReasonEmailTaken); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query, want, notWant, refresh string
		status                        int
	}{
		{"?user=" + pending, "setting up your account", "could not register", "2", http.StatusOK},
		{"?user=" + strings.ToUpper(done), "Your account is ready", "setting up", "", http.StatusOK},
		{"?user=" + lost, "This email address is already registered", "Thanks for registering", "", http.StatusOK},
		{"", "setting up your account", "could not register", "", http.StatusOK},
		{"?user=not-a-uuid", "", "", "", http.StatusBadRequest},
	}
	for _, tc := range cases {
		rec := f.b.Get(registerusers.CompletePath + tc.query)
		apptest.WantStatus(t, rec, tc.status)
		body := rec.Body.String()
		if !strings.Contains(body, tc.want) || (tc.notWant != "" && strings.Contains(body, tc.notWant)) {
			t.Errorf("%q: want %q and not %q in\n%s", tc.query, tc.want, tc.notWant, body)
		}
		if got := rec.Header().Get("Refresh"); got != tc.refresh {
			t.Errorf("%q: Refresh %q, want %q", tc.query, got, tc.refresh)
		}
	}
}
