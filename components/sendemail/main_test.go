package sendemail

import (
	"testing"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

// The tests run against a real PostgreSQL: a throw-away server for this test binary, or
// TEST_DATABASE_URL (see testdb.Main).
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.MessageStore, migrations.ViewData)
}
