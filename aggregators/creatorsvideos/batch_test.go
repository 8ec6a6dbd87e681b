package creatorsvideos

import (
	"testing"

	"github.com/google/uuid"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/messagestore"
)

// Batches of viewings of several videos that overlap one applied before count every viewing once,
// exactly as applying them one by one does.
func TestOverlappingViewingBatchesCountOnce(t *testing.T) {
	a, _ := newAggregator()
	h := newHistory(t)
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	var all []messagestore.Message // 10 viewings per video, interleaved
	for range 10 {
		for _, id := range ids {
			all = append(all, msg(t, viewingmsg.StreamName(id), viewingmsg.VideoViewed{VideoID: id}, h.uploadedAt))
		}
	}
	check := func(step string, views int64, last messagestore.Message) {
		t.Helper()
		for _, id := range ids {
			r := load(t, id)
			if r.Views != views {
				t.Errorf("%s: video %s views %d, want %d", step, id, r.Views, views)
			}
			if r.ViewsPos > last.GlobalPosition {
				t.Errorf("%s: views_position %d past the last viewing applied %d", step, r.ViewsPos, last.GlobalPosition)
			}
		}
	}
	apply(t, a, all[:12]) // 4 each
	check("first batch", 4, all[11])
	apply(t, a, all[6:21]) // overlaps the first by 2 each, adds 3 each
	check("overlapping batch", 7, all[20])
	apply(t, a, all[:21], all[20:21], all[:3])
	check("replays", 7, all[20])
	apply(t, a, all[18:], all)
	check("rest", 10, all[29])
	for _, id := range ids {
		if r := load(t, id); r.ViewsPos < all[27].GlobalPosition {
			t.Errorf("video %s views_position %d, want its last viewing's", id, r.ViewsPos)
		}
	}
}

// Within a batch, a viewing at or below an earlier one of the same video is not counted, as one by one.
func TestViewingsOutOfOrderInABatchAsOneByOne(t *testing.T) {
	a, _ := newAggregator()
	h := newHistory(t)
	id1, id2 := uuid.NewString(), uuid.NewString()
	var v1, v2 []messagestore.Message
	for range 5 {
		v1 = append(v1, msg(t, viewingmsg.StreamName(id1), viewingmsg.VideoViewed{VideoID: id1}, h.uploadedAt))
		v2 = append(v2, msg(t, viewingmsg.StreamName(id2), viewingmsg.VideoViewed{VideoID: id2}, h.uploadedAt))
	}
	batch := []messagestore.Message{v1[2], v1[0], v1[2], v2[0], v1[1], v2[1]}
	apply(t, a, batch)
	one := func(id string) row { t.Helper(); return load(t, id) }
	if r := one(id1); r.Views != 1 || r.ViewsPos != v1[2].GlobalPosition {
		t.Fatalf("video 1: %d views at %d", r.Views, r.ViewsPos)
	}
	if r := one(id2); r.Views != 2 || r.ViewsPos != v2[1].GlobalPosition {
		t.Fatalf("video 2: %d views at %d", r.Views, r.ViewsPos)
	}
	// Replaying the batch one message at a time changes nothing.
	for _, m := range batch {
		apply(t, a, []messagestore.Message{m})
	}
	if r := one(id1); r.Views != 1 {
		t.Fatalf("video 1 after the replay: %d views", r.Views)
	}
	apply(t, a, v1, v2)
	if r := one(id1); r.Views != 3 {
		t.Fatalf("video 1 after all: %d views, want 3 (positions 3, 4, 5)", r.Views)
	}
	if r := one(id2); r.Views != 5 {
		t.Fatalf("video 2 after all: %d views, want 5", r.Views)
	}
}
