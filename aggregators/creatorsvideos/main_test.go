package creatorsvideos

import (
	"testing"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

// The tests run against a real PostgreSQL with the view tables only (the aggregator is handed
// messages, it reads no store), on the pool testdb.Pool shares: a throw-away server for this test
// binary, or TEST_DATABASE_URL.
func TestMain(m *testing.M) {
	testdb.Main(m, migrations.ViewData)
}
