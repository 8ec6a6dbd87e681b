package usercredentials

import (
	"testing"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

// The tests run against a real PostgreSQL on the pool testdb.Pool shares: a throw-away server for
// this test binary, or TEST_DATABASE_URL (see testdb.Main).
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.MessageStore, migrations.ViewData)
}
