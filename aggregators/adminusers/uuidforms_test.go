package adminusers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminusers"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// User ids from other Message DB clients may be spelt in any form google/uuid accepts. "urn:uuid:…"
// is refused by PostgreSQL's uuid type, which must not stop the aggregator; and the logins of one user
// spelt two ways in one batch are that user's logins, all of them counted.
func TestUserIDsInOtherUUIDFormsAreTheSameUser(t *testing.T) {
	ctx := context.Background()
	agg := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	id := uuid.NewString()
	forms := []string{id, strings.ToUpper(id), "urn:uuid:" + id, "{" + id + "}"}
	var batch []messagestore.Message
	for i, f := range forms {
		batch = append(batch, msg("authentication-"+id, "UserLoggedIn", int64(100+i), fmt.Sprintf(`{"userId": %q}`, f)))
	}
	if err := agg.HandleMessages(ctx, batch); err != nil {
		t.Fatalf("logins of one user spelt %d ways: %v", len(forms), err)
	}
	if got := get(t, id).Logins; got != int64(len(forms)) {
		t.Fatalf("login count %d, want %d", got, len(forms))
	}
}
