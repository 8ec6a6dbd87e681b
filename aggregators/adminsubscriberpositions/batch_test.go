package adminsubscriberpositions_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminsubscriberpositions"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// Batches of several subscribers' Reads that overlap one applied before, replay it or hold Reads out
// of order leave every row as applying the Reads one by one does, after each batch.
func TestOverlappingBatchesAsOneByOne(t *testing.T) {
	ctx := context.Background()
	agg := adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reads := func(id string) []messagestore.Message { // positions 100, 200, …; global positions 1001, 1002, …
		var ms []messagestore.Message
		for i := range int64(6) {
			ms = append(ms, messagestore.Message{ID: uuid.NewString(), StreamName: messagestore.PositionStreamName(id),
				Type: "Read", GlobalPosition: 1001 + i, Time: at.Add(time.Duration(i) * time.Second),
				Data: []byte(fmt.Sprintf(`{"position": %d, "transactionId": "%d"}`, 100*(i+1), 7+i))})
		}
		return ms
	}
	ref := []string{"test:" + uuid.NewString(), "test:" + uuid.NewString()} // one Read at a time
	bat := []string{"test:" + uuid.NewString(), "test:" + uuid.NewString()} // in batches of both
	refR := [][]messagestore.Message{reads(ref[0]), reads(ref[1])}
	batR := [][]messagestore.Message{reads(bat[0]), reads(bat[1])}
	load := func(id string) string {
		t.Helper()
		var p, g int64
		var tx *string
		var upd time.Time
		if err := testdb.Pool().QueryRow(ctx, `SELECT position, transaction_id, updated_at, last_read_global_position
			FROM admin_subscriber_positions WHERE subscriber_id = $1`, id).Scan(&p, &tx, &upd, &g); err != nil {
			t.Fatal(err)
		}
		txs := "<nil>"
		if tx != nil {
			txs = *tx
		}
		return fmt.Sprintf("%d %s %s %d", p, txs, upd.UTC(), g)
	}
	for _, idx := range [][]int{{0, 1, 2}, {1, 2, 3}, {5, 3, 4}, {0, 1, 2, 3, 4, 5}, {2}} {
		var batch []messagestore.Message
		for _, i := range idx {
			batch = append(batch, batR[0][i], batR[1][i])
			for u := range 2 {
				if err := agg.HandleReads(ctx, []messagestore.Message{refR[u][i]}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := agg.HandleReads(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for u := range 2 {
			if want, got := load(ref[u]), load(bat[u]); want != got {
				t.Fatalf("after %v: subscriber %d batched %s, one by one %s", idx, u, got, want)
			}
		}
	}
	if got := load(bat[0]); got != "600 12 2026-01-01 00:00:05 +0000 UTC 1006" {
		t.Fatalf("final row %s", got)
	}
}
