package clients

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/migrations"
)

// migrateURLEnv names the database TestMigrate migrates; run.sh sets it.
const migrateURLEnv = "CLIENTS_MIGRATE_URL"

// TestMigrate applies our message-store migrations to the database of CLIENTS_MIGRATE_URL and checks
// that none is left pending: that database is what the clients' tests then run against.
func TestMigrate(t *testing.T) {
	url := os.Getenv(migrateURLEnv)
	if url == "" {
		t.Skip(migrateURLEnv + " is not set (bench/clients/run.sh sets it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.MessageStore.Up(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	current, err := migrations.MessageStore.Current(ctx, pool)
	if err != nil || !current {
		t.Fatalf("migrations current = %v, %v", current, err)
	}
	var version string
	if err := pool.QueryRow(ctx, `SELECT message_store.message_store_version()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("message_store %s migrated by our goose migrations", version)
}
