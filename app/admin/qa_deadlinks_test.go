package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminstreams"
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
