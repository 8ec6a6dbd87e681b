package creatorsvideos

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/internal/testdb"
	"videotutorials/migrations"
)

var testPool *pgxpool.Pool // shared by the tests, see testdb.Main

// The tests run against a real PostgreSQL with the view tables only (the aggregator is handed
// messages, it reads no store): a throw-away server for this test binary, or TEST_DATABASE_URL.
func TestMain(m *testing.M) {
	testdb.Main(m, func(p *pgxpool.Pool) { testPool = p }, migrations.ViewData)
}
