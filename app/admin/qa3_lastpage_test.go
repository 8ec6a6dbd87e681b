package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

var nextLink = regexp.MustCompile(`href="([^"]+)" rel="next"`)

// walk follows a list's "Next page" links from first and returns how many rows (matches of row) each
// page showed.
func walk(t *testing.T, c *http.Client, base, first string, row *regexp.Regexp) []int {
	t.Helper()
	var counts []int
	for next := first; next != "" && len(counts) < 20; {
		st, body, _ := get(t, c, base+next)
		if st != http.StatusOK {
			t.Fatalf("%s: %d", next, st)
		}
		counts = append(counts, len(row.FindAllString(body, -1)))
		next = ""
		if m := nextLink.FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	return counts
}

// A list whose length is a multiple of the page size ends on its last full page: a "Next page" link
// there led to an empty page that said "No messages." (or "No categories yet.", "No streams.") about
// a list that has some.
func TestNoNextPageLinkToAnEmptyPage(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	messageRow := regexp.MustCompile(`href="/admin/types/`)

	identity := "/admin/streams/" + url.PathEscape("identity-"+f.userID) // Registered, RegistrationEmailSent
	for _, tc := range []struct {
		name, first string
		row         *regexp.Regexp
		want        []int
	}{
		{"stream, one a page", identity + "?limit=1", messageRow, []int{1, 1}},
		{"stream, two a page", identity + "?limit=2", messageRow, []int{2}},
		{"messages filtered by stream", "/admin/messages?limit=2&stream=" + url.QueryEscape("identity-"+f.userID), messageRow, []int{2}},
		// The fixture's trace has 7 messages.
		{"trace", "/admin/traces/" + f.traceID + "?limit=7", messageRow, []int{7}},
		{"trace, not a multiple", "/admin/traces/" + f.traceID + "?limit=4", messageRow, []int{4, 3}},
		{"messages of a trace", "/admin/messages?limit=7&trace=" + f.traceID, messageRow, []int{7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := walk(t, adm, f.srv.URL, tc.first, tc.row); !equal(got, tc.want) {
				t.Errorf("rows per page %v, want %v", got, tc.want)
			}
		})
	}

	// A category of its own with two streams: its page of streams, one and two a page.
	ctx := context.Background()
	category := "qaLast" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	for range 2 {
		if _, err := f.store.Write(ctx, category+"-"+uuid.NewString(), messagestore.AnyVersion,
			messagestore.NewMessage{Type: "Happened", Data: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := f.store.ReadCategory(ctx, category, 0, 100, messagestore.CategoryRead{})
	if err != nil {
		t.Fatal(err)
	}
	if err := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet}).HandleMessages(ctx, ms); err != nil {
		t.Fatal(err)
	}
	streamRow := regexp.MustCompile(`href="/admin/streams/` + category + `-`)
	for limit, want := range map[string][]int{"1": {1, 1}, "2": {2}} {
		t.Run("category streams, "+limit+" a page", func(t *testing.T) {
			if got := walk(t, adm, f.srv.URL, "/admin/categories/"+category+"?limit="+limit, streamRow); !equal(got, want) {
				t.Errorf("rows per page %v, want %v", got, want)
			}
		})
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The user page shows the latest 20 viewings and messages, with a link to the rest only when there is
// a rest: with exactly 20 the link led to a list of the same 20.
func TestUserPageLinksToMoreOnlyWhenThereIsMore(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	ctx := context.Background()
	userID := uuid.NewString()
	streams := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	view := func() {
		t.Helper()
		stream := "viewing-" + uuid.NewString()
		if _, err := f.store.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "VideoViewed",
			Data: map[string]string{"userId": userID}, Metadata: messagestore.Metadata{TraceID: uuid.NewString(), UserID: userID}}); err != nil {
			t.Fatal(err)
		}
		m, err := f.store.LastMessage(ctx, stream, "")
		if err != nil {
			t.Fatal(err)
		}
		// The index of the messages by user is admin-streams' view.
		if err := streams.HandleMessages(ctx, []messagestore.Message{*m}); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		view()
	}
	_, body, _ := get(t, adm, f.srv.URL+"/admin/users/"+userID)
	if m := nextLink.FindStringSubmatch(body); m != nil {
		t.Errorf("20 viewings, and a link to more: %s", m[1])
	}
	view()
	_, body, _ = get(t, adm, f.srv.URL+"/admin/users/"+userID)
	if got := len(nextLink.FindAllString(body, -1)); got != 2 {
		t.Errorf("21 viewings (and messages): %d links to more, want 2 (viewings, messages)", got)
	}
}
