package videooperations

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
	"videotutorials/migrations"
)

var testPool *pgxpool.Pool

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		return 1
	}
	defer stop()
	ctx := context.Background()
	if testPool, err = pgxpool.New(ctx, url); err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		return 1
	}
	defer testPool.Close()
	if err := migrations.ViewData.Up(ctx, testPool, nil); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		return 1
	}
	return m.Run()
}
