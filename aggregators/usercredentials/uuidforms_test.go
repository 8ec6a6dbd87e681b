package usercredentials

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// User ids written by other Message DB clients may be spelt "urn:uuid:…", which google/uuid accepts
// and PostgreSQL's uuid type refuses: such a Registered, RegistrationRejected or UserLoggedOut must not
// stop the aggregator. It is recorded for the user it names.
func TestUserIDsInURNFormAreRecorded(t *testing.T) {
	a := newAggregator()
	id, rejectedID, email := uuid.NewString(), uuid.NewString(), freshEmail()
	defer forget(t, []string{email}, []string{id})
	reg := registration(id, email, 10)
	reg.Data = []byte(strings.Replace(string(reg.Data), `"userId":"`, `"userId":"urn:uuid:`, 1))
	rej := registration(rejectedID, "x", 11)
	rej.Type, rej.Data = rejected, []byte(`{"userId": "urn:uuid:`+rejectedID+`", "reason": "email already registered"}`)
	if err := a.HandleRegistrations(ctx, []messagestore.Message{reg, rej}); err != nil {
		t.Fatalf("registration and rejection of urn:uuid: user ids: %v", err)
	}
	if got := rows(t, []string{email}, nil); len(got) != 1 || !strings.HasPrefix(got[0], id+" ") {
		t.Fatalf("rows %q, want the user %s", got, id)
	}
	o, err := viewdata.RegistrationOutcomeOf(ctx, testdb.Pool(), rejectedID)
	if err != nil || !o.Rejected {
		t.Fatalf("outcome of the rejected user %+v, %v", o, err)
	}
	ref := uuid.NewString()
	out := logOut(id, ref, 12)
	out.Data = []byte(`{"userId": "urn:uuid:` + id + `", "sessionRef": "` + ref + `"}`)
	if err := a.HandleLogOuts(ctx, []messagestore.Message{out}); err != nil {
		t.Fatalf("log-out of a urn:uuid: user id: %v", err)
	}
	if gone, err := viewdata.SessionLoggedOut(ctx, testdb.Pool(), ref); err != nil || !gone {
		t.Fatalf("session logged out %v, %v", gone, err)
	}
}
