package testdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

// Quiet is a logger that discards everything, for the code under test.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// url is the database of this test binary, set by Main before the tests run; shared is the pool
// Pool hands out. Each test binary is a process of its own, so this state is per package under test.
var (
	url    string
	shared struct {
		once sync.Once
		pool *pgxpool.Pool
		err  error
	}
)

// Main is a package's TestMain: it starts the test binary's database (a throw-away server, or
// TEST_DATABASE_URL, see devdb.ForTests), applies sets in order, runs the tests and exits with their
// code, closing the shared pool and stopping the server on the way out.
func Main(m *testing.M, sets ...migrations.Set) {
	os.Exit(run(m, sets))
}

func run(m *testing.M, sets []migrations.Set) int {
	u, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		return 1
	}
	defer stop()
	if err := migrate(u, sets); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	url = u
	defer func() {
		if shared.pool != nil {
			shared.pool.Close()
		}
	}()
	return m.Run()
}

func migrate(u string, sets []migrations.Set) error {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	for _, set := range sets {
		if err := set.Up(ctx, pool, nil); err != nil {
			return fmt.Errorf("migrate %s: %w", set.Name, err)
		}
	}
	return nil
}

// URL is the address of the database Main started.
func URL() string {
	if url == "" {
		panic("testdb: no database; call testdb.Main from the package's TestMain")
	}
	return url
}

// Pool is one pool on the test database shared by all the tests of the binary (opened on first
// use, closed by Main when they end), for tests that need no pool of their own.
func Pool() *pgxpool.Pool {
	shared.once.Do(func() { shared.pool, shared.err = newPool() })
	if shared.err != nil {
		panic("testdb: shared pool: " + shared.err.Error())
	}
	return shared.pool
}

// newPool opens a pool on the test database configured as the program's pools are.
func newPool() (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(URL())
	if err != nil {
		return nil, err
	}
	messagestore.CancelStatementsOnServer(pc)
	return pgxpool.NewWithConfig(context.Background(), pc)
}

// NewPool opens a pool of its own on the test database, closed when t ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := newPool()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewTx begins a transaction on a pool of its own, rolled back when t ends: view rows a test writes
// in it are seen by no other test and left behind by none.
func NewTx(t testing.TB) pgx.Tx {
	t.Helper()
	tx, err := NewPool(t).Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

// NewStore returns a message store on a pool of its own, as another process would have.
func NewStore(t testing.TB) *messagestore.Store {
	t.Helper()
	return messagestore.New(NewPool(t), messagestore.Options{Logger: Quiet})
}
