package identity

import (
	"testing"

	"github.com/google/uuid"

	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

// The tests run against a real PostgreSQL: a throw-away server for this test binary, or
// TEST_DATABASE_URL (see testdb.Main).
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.MessageStore, migrations.ViewData)
}

const baseURL = "https://videos.example"

func newComponent(t testing.TB) (*Component, *messagestore.Store) {
	t.Helper()
	s := testdb.NewStore(t)
	return New(Deps{Store: s, Logger: testdb.Quiet, BaseURL: baseURL + "/"}), s
}

// freshEmail is an address no other test uses.
func freshEmail() string { return "user-" + uuid.NewString()[:13] + "@example.com" }
