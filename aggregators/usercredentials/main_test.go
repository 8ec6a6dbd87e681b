package usercredentials

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

var (
	dbURL string
	db    *pgxpool.Pool
	ctx   = context.Background()
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func TestMain(m *testing.M) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		os.Exit(1)
	}
	dbURL = url
	db, err = pgxpool.New(ctx, url)
	if err == nil {
		if err = migrations.MessageStore.Up(ctx, db, nil); err == nil {
			err = migrations.ViewData.Up(ctx, db, nil)
		}
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
	code := m.Run()
	db.Close()
	stop()
	os.Exit(code)
}

func newStore(t testing.TB) *messagestore.Store {
	t.Helper()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return messagestore.New(pool, messagestore.Options{Logger: quiet})
}
