package videooperations

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

var ctx = context.Background()

var positions atomic.Int64

func init() { positions.Store(time.Now().UnixMilli()) }

type event struct{ topic, name, data string }

type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Publish(topic, name, data string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{topic, name, data})
}

func newAggregator() (*Aggregator, *recorder) {
	r := &recorder{}
	return New(Deps{DB: testdb.Pool(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Live: r}), r
}

func outcome(t *testing.T, videoID, traceID string, data any) messagestore.Message {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return messagestore.Message{ID: uuid.NewString(), StreamName: videopublishingmsg.StreamName(videoID),
		Type: messagestore.TypeName(data), GlobalPosition: positions.Add(1), Data: raw,
		Metadata: messagestore.Metadata{TraceID: traceID, UserID: uuid.NewString()}}
}

func TestOutcomesAreRecordedOnceAndAnnounced(t *testing.T) {
	a, live := newAggregator()
	videoID := uuid.NewString()
	named, rejected, described, descRejected := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	batch := []messagestore.Message{
		outcome(t, videoID, named, videopublishingmsg.VideoNamed{Name: "A", VideoID: videoID}),
		outcome(t, videoID, rejected, videopublishingmsg.VideoNameRejected{Name: "", VideoID: videoID, Reason: "The name is blank."}),
		outcome(t, videoID, described, videopublishingmsg.VideoDescribed{Description: "D", VideoID: videoID}),
		outcome(t, videoID, descRejected, videopublishingmsg.VideoDescriptionRejected{VideoID: videoID, Reason: "Only the video's owner can change it."}),
	}
	for range 2 {
		if err := a.HandleMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// in reverse order too: still recorded once
	if err := a.HandleMessages(ctx, []messagestore.Message{batch[3], batch[0]}); err != nil {
		t.Fatal(err)
	}
	want := map[string]viewdata.VideoOperation{
		named:        {TraceID: named, VideoID: videoID, Kind: "name", Succeeded: true},
		rejected:     {TraceID: rejected, VideoID: videoID, Kind: "name", FailureReason: "The name is blank."},
		described:    {TraceID: described, VideoID: videoID, Kind: "describe", Succeeded: true},
		descRejected: {TraceID: descRejected, VideoID: videoID, Kind: "describe", FailureReason: "Only the video's owner can change it."},
	}
	for trace, w := range want {
		got, err := viewdata.VideoOperationByTraceID(ctx, testdb.Pool(), trace)
		if err != nil || got != w {
			t.Errorf("%s: %+v %v, want %+v", trace, got, err, w)
		}
	}
	if len(live.events) != 4 {
		t.Fatalf("live events %+v: want one per outcome", live.events)
	}
	// Every outcome is a bare reload of its own page: the event tells nothing about the outcome.
	for i, trace := range []string{named, rejected, described, descRejected} {
		if e := live.events[i]; e != (event{"video-operation:" + trace, "reload", ""}) {
			t.Errorf("event %d %+v, want a bare reload on the operation's topic", i, e)
		}
	}
	if _, err := viewdata.VideoOperationByTraceID(ctx, testdb.Pool(), uuid.NewString()); !errors.Is(err, viewdata.ErrNotFound) {
		t.Errorf("pending operation: %v", err)
	}
}

func TestUnusableEventsAreSkipped(t *testing.T) {
	a, _ := newAggregator()
	videoID := uuid.NewString()
	noTrace := outcome(t, videoID, "", videopublishingmsg.VideoNamed{Name: "A", VideoID: videoID})
	badStream := outcome(t, videoID, uuid.NewString(), videopublishingmsg.VideoNamed{Name: "A", VideoID: videoID})
	badStream.StreamName = "videoPublishing-x"
	other := outcome(t, videoID, uuid.NewString(), videopublishingmsg.VideoPublished{VideoID: videoID})
	if err := a.HandleMessages(ctx, []messagestore.Message{noTrace, badStream, other}); err != nil {
		t.Fatal(err)
	}
	if _, err := viewdata.VideoOperationByTraceID(ctx, testdb.Pool(), badStream.Metadata.TraceID); !errors.Is(err, viewdata.ErrNotFound) {
		t.Errorf("recorded an event of a stream without a video: %v", err)
	}
}

// A name or describe command written by another Message DB client may carry a trace id of kilobytes;
// video-publishing copies it onto its outcome. video_operations is keyed by the trace id, and
// PostgreSQL refuses a B-tree entry over 2704 bytes: the outcome cannot be recorded, and it must not
// park the aggregator (nobody could ever look it up: the operation page takes a UUID).
func TestAnOutcomeWithATraceIDTooLongToIndexIsSkipped(t *testing.T) {
	a, _ := newAggregator()
	videoID := uuid.NewString()
	b := make([]byte, 3000)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	long := outcome(t, videoID, base64.StdEncoding.EncodeToString(b),
		videopublishingmsg.VideoNameRejected{VideoID: videoID, Reason: "There is no such video."})
	fine := outcome(t, videoID, uuid.NewString(), videopublishingmsg.VideoNamed{Name: "A", VideoID: videoID})
	if err := a.HandleMessages(ctx, []messagestore.Message{long, fine}); err != nil {
		t.Fatalf("a trace id of %d bytes: %v", len(long.Metadata.TraceID), err)
	}
	if got, err := viewdata.VideoOperationByTraceID(ctx, testdb.Pool(), fine.Metadata.TraceID); err != nil || !got.Succeeded {
		t.Errorf("the outcome beside it: %+v %v", got, err)
	}
}
