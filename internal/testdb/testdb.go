package testdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

// Quiet is a logger that discards everything, for the code under test.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// url is the database of this test binary, set by Main before the tests run. Each test binary is a
// process of its own, so this package state is per package under test.
var url string

// Main is a package's TestMain: it starts the test binary's database (a throw-away server, or
// TEST_DATABASE_URL, see devdb.ForTests), applies sets in order, runs the tests and exits with their
// code, stopping the server on the way out.
//
// With shared not nil, the pool Main migrated with stays open and is handed to shared before the
// tests run (for packages whose tests share one pool); Main closes it when they end. Otherwise it is
// closed before the tests, which open pools of their own (NewPool, NewStore).
func Main(m *testing.M, shared func(*pgxpool.Pool), sets ...migrations.Set) {
	os.Exit(run(m, shared, sets))
}

func run(m *testing.M, shared func(*pgxpool.Pool), sets []migrations.Set) int {
	u, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		return 1
	}
	defer stop()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		return 1
	}
	defer pool.Close()
	for _, set := range sets {
		if err := set.Up(ctx, pool, nil); err != nil {
			fmt.Fprintf(os.Stderr, "migrate %s: %v\n", set.Name, err)
			return 1
		}
	}
	url = u
	if shared != nil {
		shared(pool)
	} else {
		pool.Close()
	}
	return m.Run()
}

// URL is the address of the database Main started.
func URL() string {
	if url == "" {
		panic("testdb: no database; call testdb.Main from the package's TestMain")
	}
	return url
}

// NewPool opens a pool of its own on the test database, closed when t ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewStore returns a message store on a pool of its own, as another process would have.
func NewStore(t testing.TB) *messagestore.Store {
	t.Helper()
	return messagestore.New(NewPool(t), messagestore.Options{Logger: Quiet})
}
