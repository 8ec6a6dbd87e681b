package home_test

import (
	"testing"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

// The tests run the application in the real web shell (sessions, CSRF, body limits, error pages)
// against a real PostgreSQL: a throw-away server for this test binary, or TEST_DATABASE_URL (see
// apptest and testdb).
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.MessageStore, migrations.ViewData)
}
