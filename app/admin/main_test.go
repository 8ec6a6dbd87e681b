package admin_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

var pool *pgxpool.Pool // shared by the tests, see testdb.Main

// The tests run the admin portal over HTTP against a real PostgreSQL: a throw-away server for this
// test binary, or TEST_DATABASE_URL (see testdb.Main).
func TestMain(m *testing.M) {
	testdb.Main(m, func(p *pgxpool.Pool) { pool = p }, migrations.MessageStore, migrations.ViewData)
}
