package authenticate_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"videotutorials/app/apptest"
	"videotutorials/app/authenticate"
)

// A visitor sent to log in on the way to a page (?next=) who has no account yet follows "Create an
// account": the page they wanted must come along, so that registering and then logging in ends
// there rather than on the home page. An unsafe next is not passed on.
func TestCreateAnAccountLinkKeepsWhereTheVisitorWasGoing(t *testing.T) {
	f := setup(t, authenticate.Throttle{})
	b := apptest.NewBrowser(t, f.srv)
	rec := b.Get("/auth/log-in?next=" + url.QueryEscape("/creators-portal/"))
	apptest.WantStatus(t, rec, http.StatusOK)
	if want := `href="/register?next=%2Fcreators-portal%2F"`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the log-in page lacks %s", want)
	}
	rec = b.Get("/auth/log-in?next=" + url.QueryEscape("//evil.example/"))
	apptest.WantStatus(t, rec, http.StatusOK)
	if !strings.Contains(rec.Body.String(), `href="/register"`) || strings.Contains(rec.Body.String(), "evil.example") {
		t.Errorf("an unsafe next is passed on to the register link")
	}
}
