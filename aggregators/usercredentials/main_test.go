package usercredentials

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

var (
	db  *pgxpool.Pool // shared by the tests, see testdb.Main
	ctx = context.Background()
)

// The tests run against a real PostgreSQL: a throw-away server for this test binary, or
// TEST_DATABASE_URL (see testdb.Main).
func TestMain(m *testing.M) {
	testdb.Main(m, func(p *pgxpool.Pool) { db = p }, migrations.MessageStore, migrations.ViewData)
}
