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
	"videotutorials/viewdata"
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

// Parked and Resumed messages of a subscriber's status stream say whether it is parked; the latest
// wins, and replays or batches in any order change nothing.
func TestStatusMessagesSayWhetherParked(t *testing.T) {
	ctx := context.Background()
	agg := adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	id := "test:" + uuid.NewString()
	status := func(typ string, gpos int64, data string) messagestore.Message {
		return messagestore.Message{ID: uuid.NewString(), StreamName: messagestore.StatusStreamName(id), Type: typ,
			GlobalPosition: gpos, Data: []byte(data), Time: time.Now().UTC()}
	}
	parked := status("Parked", 2000, `{"globalPosition": 77, "streamName": "account-1", "type": "Deposited",
		"messageId": "m", "error": "cannot handle this one", "attempts": 5}`)
	resumed := status("Resumed", 2001, `{"position": 77}`)
	row := func() (bool, string, int64, string, int) {
		t.Helper()
		var isParked bool
		var errText, stream *string
		var fgp *int64
		var attempts *int32
		if err := testdb.Pool().QueryRow(ctx, `SELECT parked, error, failing_global_position, failing_stream_name, attempts
			FROM admin_subscriber_status WHERE subscriber_id = $1`, id).Scan(&isParked, &errText, &fgp, &stream, &attempts); err != nil {
			t.Fatal(err)
		}
		var e, s string
		var g int64
		var a int
		if errText != nil {
			e = *errText
		}
		if stream != nil {
			s = *stream
		}
		if fgp != nil {
			g = *fgp
		}
		if attempts != nil {
			a = int(*attempts)
		}
		return isParked, e, g, s, a
	}

	if err := agg.HandleStatus(ctx, []messagestore.Message{parked}); err != nil {
		t.Fatal(err)
	}
	if p, e, g, s, a := row(); !p || e != "cannot handle this one" || g != 77 || s != "account-1" || a != 5 {
		t.Fatalf("after Parked: %v %q %d %q %d", p, e, g, s, a)
	}
	for _, batch := range [][]messagestore.Message{{resumed}, {parked}, {resumed, parked}, {parked, resumed}} {
		if err := agg.HandleStatus(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if p, e, _, _, _ := row(); p || e != "" {
			t.Fatalf("after Resumed (then replays): parked %v, error %q", p, e)
		}
	}
	// A Parked of another shape (another client's) still says parked.
	if err := agg.HandleStatus(ctx, []messagestore.Message{status("Parked", 2002, `["not", "an", "object"]`)}); err != nil {
		t.Fatal(err)
	}
	if p, _, _, _, _ := row(); !p {
		t.Fatal("an undecodable Parked did not mark the subscriber parked")
	}
}

// A subscription that keeps retrying (Retrying) shows as retrying, with its failure, and not as
// parked; a park after it, and Resumed, replace it; a replayed Retrying changes nothing. The admin
// page's query (viewdata.AdminSubscriberPositions) reads the same.
func TestRetryingShowsUntilParkedOrResumed(t *testing.T) {
	ctx := context.Background()
	agg := adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	id := "test:" + uuid.NewString()
	status := func(typ string, gpos int64, data string) messagestore.Message {
		return messagestore.Message{ID: uuid.NewString(), StreamName: messagestore.StatusStreamName(id), Type: typ,
			GlobalPosition: gpos, Data: []byte(data), Time: time.Now().UTC()}
	}
	retrying := status("Retrying", 3000, `{"globalPosition": 88, "streamName": "videoPublishing-1", "type": "PublishVideo",
		"messageId": "m", "error": "no space left on device", "attempts": 9, "transient": true, "since": "2026-11-27T10:00:00Z"}`)
	parked := status("Parked", 3001, `{"globalPosition": 88, "streamName": "videoPublishing-1", "type": "PublishVideo",
		"messageId": "m", "error": "gave up", "attempts": 5}`)
	resumed := status("Resumed", 3002, `{"position": 88}`)
	row := func() viewdata.AdminSubscriberPosition {
		t.Helper()
		// The page after id less its last character starts at id (no other id shares that prefix).
		ps, err := viewdata.AdminSubscriberPositions(ctx, testdb.Pool(), id[:len(id)-1], 1)
		if err != nil || len(ps) != 1 || ps[0].SubscriberID != id {
			t.Fatalf("admin subscriber positions: %+v, %v", ps, err)
		}
		return ps[0]
	}

	for range 2 { // the second time a replay
		if err := agg.HandleStatus(ctx, []messagestore.Message{retrying}); err != nil {
			t.Fatal(err)
		}
		if p := row(); !p.Retrying || p.Parked || p.ParkedError != "no space left on device" || p.Attempts != 9 ||
			p.FailingGlobalPosition != 88 || p.FailingType != "PublishVideo" || p.Saved {
			t.Fatalf("after Retrying: %+v", p)
		}
	}
	if err := agg.HandleStatus(ctx, []messagestore.Message{parked, retrying}); err != nil {
		t.Fatal(err)
	}
	if p := row(); p.Retrying || !p.Parked || p.ParkedError != "gave up" || p.Attempts != 5 {
		t.Fatalf("after Parked (and a replayed Retrying): %+v", p)
	}
	if err := agg.HandleStatus(ctx, []messagestore.Message{resumed, retrying}); err != nil {
		t.Fatal(err)
	}
	if p := row(); p.Retrying || p.Parked || p.ParkedError != "" {
		t.Fatalf("after Resumed: %+v", p)
	}
}
