package registerusers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/apptest"
	"videotutorials/app/registerusers"
)

// A visitor on the way to a page (the log-in page's ?next=, passed on by its "Create an account"
// link) registers, then logs in: the page they wanted comes along through the form, the redirect and
// the registration-complete page's "Log in" link, so that they end up there rather than on the home
// page. An unsafe next is dropped everywhere.
func TestRegistrationKeepsWhereTheVisitorWasGoing(t *testing.T) {
	f := setup(t)
	next := "/creators-portal/"
	escaped := url.QueryEscape(next)

	rec := f.b.Get(registerusers.RegisterPath + "?next=" + escaped)
	apptest.WantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	if !strings.Contains(body, `<input type="hidden" name="next" value="`+next+`">`) {
		t.Errorf("the form does not carry next")
	}
	if !regexp.MustCompile(`href="/auth/log-in\?next=` + regexp.QuoteMeta(escaped) + `"`).MatchString(body) {
		t.Errorf("the form's log-in link does not carry next")
	}
	userID := userIDField.FindStringSubmatch(body)[1]

	// A refused submission keeps it.
	rec = f.b.Submit(registerusers.RegisterPath, registerusers.RegisterPath, url.Values{
		"userId": {userID}, "email": {"not an email"}, "password": {"long enough"}, "next": {next}})
	apptest.WantStatus(t, rec, http.StatusBadRequest)
	if !strings.Contains(rec.Body.String(), `name="next" value="`+next+`"`) {
		t.Errorf("the re-rendered form lost next")
	}

	rec = f.b.Submit(registerusers.RegisterPath, registerusers.RegisterPath, url.Values{
		"userId": {userID}, "email": {freshEmail()}, "password": {"long enough"}, "next": {next}})
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	loc := rec.Header().Get("Location")
	if want := registerusers.CompletePath + "?user=" + userID + "&next=" + escaped; loc != want {
		t.Fatalf("Location %q, want %q", loc, want)
	}

	done := uuid.NewString()
	if _, err := f.views.Exec(context.Background(),
		`INSERT INTO user_credentials (id, email, password_hash, position) VALUES ($1, $2, 'x', 9000000000003)`,
		done, freshEmail()); err != nil {
		t.Fatal(err)
	}
	rec = f.b.Get(registerusers.CompletePath + "?user=" + done + "&next=" + escaped)
	apptest.WantStatus(t, rec, http.StatusOK)
	if want := `href="/auth/log-in?next=` + escaped + `"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the registration-complete page's log-in link lacks next (%s)", want)
	}

	// Unsafe: dropped.
	evil := url.QueryEscape("//evil.example/")
	for _, page := range []string{registerusers.RegisterPath + "?next=" + evil, registerusers.CompletePath + "?user=" + done + "&next=" + evil} {
		rec = f.b.Get(page)
		apptest.WantStatus(t, rec, http.StatusOK)
		if strings.Contains(rec.Body.String(), "evil.example") {
			t.Errorf("%s passes an unsafe next on", page)
		}
	}
	other := f.form(t)
	rec = f.b.Submit(registerusers.RegisterPath, registerusers.RegisterPath, url.Values{
		"userId": {other}, "email": {freshEmail()}, "password": {"long enough"}, "next": {"//evil.example/"}})
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != registerusers.CompletePath+"?user="+other {
		t.Errorf("Location %q with an unsafe next", loc)
	}
}

// A registration that lost its email to another one made at the same moment offers to register with
// another address: that link keeps where the visitor was going as well.
func TestRejectedRegistrationKeepsWhereTheVisitorWasGoing(t *testing.T) {
	f := setup(t)
	lost := uuid.NewString()
	if _, err := f.views.Exec(context.Background(),
		`INSERT INTO registration_rejections (user_id, reason, position) VALUES ($1, 'email-taken', 9000000000004)`, lost); err != nil {
		t.Fatal(err)
	}
	escaped := url.QueryEscape("/creators-portal/")
	rec := f.b.Get(registerusers.CompletePath + "?user=" + lost + "&next=" + escaped)
	apptest.WantStatus(t, rec, http.StatusOK)
	for _, want := range []string{`href="/register?next=` + escaped + `"`, `href="/auth/log-in?next=` + escaped + `"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("the rejected registration's page lacks %s", want)
		}
	}
}
