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

func TestLatestReadWinsAndReplaysChangeNothing(t *testing.T) {
	ctx := context.Background()
	agg := adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
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
	if err := testdb.Pool().QueryRow(ctx, `SELECT position, last_read_global_position FROM admin_subscriber_positions
		WHERE subscriber_id = $1`, id).Scan(&p, &g); err != nil {
		t.Fatal(err)
	}
	if p != 200 || g != 1001 {
		t.Fatalf("position %d at %d, want 200 at 1001", p, g)
	}
}
