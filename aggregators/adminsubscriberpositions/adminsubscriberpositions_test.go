package adminsubscriberpositions_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/aggregators/adminsubscriberpositions"
	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

var pool *pgxpool.Pool

func TestMain(m *testing.M) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	pool, err = pgxpool.New(ctx, url)
	if err == nil {
		err = migrations.MessageStore.Up(ctx, pool, nil)
	}
	if err == nil {
		err = migrations.ViewData.Up(ctx, pool, nil)
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
	code := m.Run()
	pool.Close()
	stop()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLatestReadWinsAndReplaysChangeNothing(t *testing.T) {
	ctx := context.Background()
	agg := adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: pool, Logger: quiet})
	id := "test:" + uuid.NewString()
	read := func(pos, gpos int64) messagestore.Message {
		return messagestore.Message{ID: uuid.NewString(), StreamName: messagestore.PositionStreamName(id), Type: "Read",
			GlobalPosition: gpos, Data: []byte(fmt.Sprintf(`{"position": %d}`, pos)), Time: time.Now().UTC()}
	}
	a, b := read(100, 1000), read(200, 1001)
	for _, batch := range [][]messagestore.Message{{a, b}, {a}, {b, a}} {
		if err := agg.HandleReads(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var p, g int64
	if err := pool.QueryRow(ctx, `SELECT position, last_read_global_position FROM admin_subscriber_positions
		WHERE subscriber_id = $1`, id).Scan(&p, &g); err != nil {
		t.Fatal(err)
	}
	if p != 200 || g != 1001 {
		t.Fatalf("position %d at %d, want 200 at 1001", p, g)
	}
}
