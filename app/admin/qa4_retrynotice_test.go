package admin_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Both retry actions redirect to the page they were on, which looked exactly as before the click (a
// subscription that is not parked stays as it was): the admin could not tell the click from a lost
// one. The page they come back to says what was asked, of which subscriber.
func TestRetryActionsSayWhatTheyAsked(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	notice := regexp.MustCompile(`<p class="notice" role="status">([^<]*)</p>`)
	for _, tc := range []struct{ page, id, want string }{
		{"/admin/subscriptions", "test:admin-page", "Asked test:admin-page to try its failing message again."},
		{"/admin/subscriber-positions", "worker:" + uuid.NewString() + "/a b",
			"to retry it if it is parked."},
	} {
		t.Run(tc.page, func(t *testing.T) {
			_, body, _ := get(t, adm, f.srv.URL+tc.page)
			if m := notice.FindStringSubmatch(body); m != nil {
				t.Errorf("%s before any retry says %q", tc.page, m[1])
			}
			m := csrf.FindStringSubmatch(body)
			if m == nil {
				t.Fatal("no CSRF token on the page")
			}
			res, err := adm.PostForm(f.srv.URL+tc.page+"/"+url.PathEscape(tc.id)+"/retry", url.Values{"_csrf": {m[1]}})
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			loc, _ := res.Location()
			if res.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != tc.page {
				t.Fatalf("retry: %d to %v, want 303 to %s", res.StatusCode, loc, tc.page)
			}
			st, body, _ := get(t, adm, loc.String())
			m = notice.FindStringSubmatch(body)
			if st != http.StatusOK || m == nil {
				t.Fatalf("%s after the retry: status %d, no notice", loc, st)
			}
			if got := html.UnescapeString(m[1]); !strings.Contains(got, tc.id) || !strings.Contains(got, tc.want) {
				t.Errorf("notice %q, want it to name %q and say %q", got, tc.id, tc.want)
			}
		})
	}
}
