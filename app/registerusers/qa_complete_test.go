package registerusers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/apptest"
	"videotutorials/app/registerusers"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/messagestore"
)

// The registration-complete page of a user id that no registration used (a mistyped or made-up link)
// said "We are setting up your account" and reloaded itself every two seconds, forever. It is a 404:
// there is nothing to wait for. A registration that was sent (its Register command is in the store)
// and is not decided yet is still the pending page.
func TestRegistrationCompleteOfNoRegistrationIsNotFound(t *testing.T) {
	f := setup(t)
	rec := f.b.Get(registerusers.CompletePath + "?user=" + uuid.NewString())
	apptest.WantStatus(t, rec, http.StatusNotFound)
	if got := rec.Header().Get("Refresh"); got != "" {
		t.Errorf("Refresh %q on the page of no registration", got)
	}

	sent := uuid.NewString()
	cmd := messagestore.NewEvent(identitymsg.Register{UserID: sent, Email: freshEmail(), PasswordHash: "x"}, messagestore.Metadata{})
	if _, err := f.store.Write(context.Background(), identitymsg.CommandStreamName(sent), messagestore.NoStream, cmd); err != nil {
		t.Fatal(err)
	}
	rec = f.b.Get(registerusers.CompletePath + "?user=" + sent)
	apptest.WantStatus(t, rec, http.StatusOK)
	if !strings.Contains(rec.Body.String(), "setting up your account") || rec.Header().Get("Refresh") != "2" {
		t.Errorf("a sent registration is not pending (Refresh %q)\n%s", rec.Header().Get("Refresh"), rec.Body.String())
	}
}
