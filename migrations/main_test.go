package migrations_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
	"videotutorials/migrations"
)

// testURL is the database every test of this package uses; pool is shared by the tests that do not need
// their own session settings. Tests isolate themselves with fresh UUID stream names and categories.
var (
	testURL string
	pool    *pgxpool.Pool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrations tests: no database:", err)
		return 1
	}
	defer stop()
	testURL = url

	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrations tests:", err)
		return 1
	}
	// Room for the parallel tests and their concurrent writers (the default is 4 on this machine).
	cfg.MaxConns = 40
	pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migrations tests:", err)
		return 1
	}
	defer pool.Close()

	// Twice: the second run must be a no-op under goose (and must not fail on what the first created).
	for i := 0; i < 2; i++ {
		if err := migrations.MessageStore.Up(ctx, pool, nil); err != nil {
			fmt.Fprintln(os.Stderr, "migrations tests:", err)
			return 1
		}
	}
	return m.Run()
}
