package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// The user page shows the latest 20 messages of the user's authentication stream; a user with more
// log-ins (or failed ones) had no way from there to the older ones: the login activity ended at 20
// without a link, unlike the viewings and messages below it.
func TestUserPageLinksToOlderLoginActivity(t *testing.T) {
	f := setup(t)
	adm := f.client(t, f.adminID)
	ctx := context.Background()
	userID := uuid.NewString()
	stream := "authentication-" + userID
	logIn := func() {
		t.Helper()
		if _, err := f.store.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "UserLoginFailed",
			Data: map[string]string{"userId": userID, "reason": "Incorrect password"}, Metadata: messagestore.Metadata{TraceID: uuid.NewString()}}); err != nil {
			t.Fatal(err)
		}
	}
	loginsSection := func(body string) string {
		start, end := strings.Index(body, `id="logins-heading"`), strings.Index(body, `id="viewings-heading"`)
		if start < 0 || end < start {
			t.Fatalf("no login activity section in the user page:\n%s", body)
		}
		return body[start:end]
	}
	for range 20 {
		logIn()
	}
	_, body, _ := get(t, adm, f.srv.URL+"/admin/users/"+userID)
	if m := nextLink.FindStringSubmatch(loginsSection(body)); m != nil {
		t.Errorf("20 log-ins, and a link to more: %s", m[1])
	}
	logIn()
	st, body, _ := get(t, adm, f.srv.URL+"/admin/users/"+userID)
	m := nextLink.FindStringSubmatch(loginsSection(body))
	if m == nil {
		t.Fatalf("21 log-ins (status %d): no link to the older login activity", st)
	}
	// The link is the next page: the oldest log-in, the one the user page does not show.
	first, err := f.store.ReadStream(ctx, stream, 0, 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("read %s: %v %v", stream, first, err)
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	st, body, _ = get(t, adm, f.srv.URL+next)
	if rows := strings.Count(body, `href="/admin/types/UserLoginFailed"`); st != 200 || rows != 1 ||
		!strings.Contains(body, fmt.Sprintf(`href="/admin/messages/%d"`, first[0].GlobalPosition)) {
		t.Errorf("%s: status %d, %d log-ins, want 200 and the oldest one", next, st, rows)
	}
}
