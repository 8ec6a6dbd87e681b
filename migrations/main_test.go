package migrations_test

import (
	"context"
	"fmt"
	neturl "net/url"
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

// TestConcurrentFirstMigrationsOfOneCluster: fresh databases of one fresh cluster migrating at once
// race to create the cluster-wide message_store role; every one of them must still come up.
func TestConcurrentFirstMigrationsOfOneCluster(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") != "" {
		t.Skip("needs a cluster of its own, where the role does not exist yet")
	}
	fresh, stop, err := devdb.ForTests()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const n = 4
	urls := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("race_%d", i)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		u, _ := neturl.Parse(fresh)
		u.Path = "/" + name
		urls[i] = u.String()
	}
	errs := make(chan error, n)
	for _, u := range urls {
		go func() {
			pool, err := pgxpool.New(ctx, u)
			if err != nil {
				errs <- err
				return
			}
			defer pool.Close()
			errs <- migrations.MessageStore.Up(ctx, pool, nil)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
