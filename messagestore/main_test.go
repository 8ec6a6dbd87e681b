package messagestore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

var dbURL string

func TestMain(m *testing.M) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		os.Exit(1)
	}
	dbURL = url
	pool, err := pgxpool.New(context.Background(), url)
	if err == nil {
		err = migrations.MessageStore.Up(context.Background(), pool, nil)
		pool.Close()
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newStore returns a store on a pool of its own, as another process would have.
func newStore(t testing.TB) *messagestore.Store {
	t.Helper()
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	messagestore.CancelStatementsOnServer(pc) // as the program's pools are
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return messagestore.New(pool, messagestore.Options{Logger: quiet})
}

// fresh returns a category name no other test uses.
func fresh(prefix string) string {
	return prefix + uuid.NewString()[:8]
}
