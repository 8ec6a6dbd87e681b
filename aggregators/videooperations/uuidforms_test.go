package videooperations

import (
	"testing"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// A video id spelt "urn:uuid:…" (another Message DB client's stream name; google/uuid accepts it,
// PostgreSQL's uuid type does not) must not stop the aggregator: the outcome is recorded for the video.
func TestOutcomeOfAVideoIDInURNFormIsRecorded(t *testing.T) {
	a, _ := newAggregator()
	id, trace := uuid.NewString(), uuid.NewString()
	m := outcome(t, "urn:uuid:"+id, trace, videopublishingmsg.VideoNamed{VideoID: id, Name: "n"})
	if err := a.HandleMessages(ctx, []messagestore.Message{m}); err != nil {
		t.Fatalf("outcome in stream %s: %v", m.StreamName, err)
	}
	op, err := viewdata.VideoOperationByTraceID(ctx, testdb.Pool(), trace)
	if err != nil {
		t.Fatal(err)
	}
	if op.VideoID != id || !op.Succeeded {
		t.Fatalf("operation %+v, want video %s succeeded", op, id)
	}
}
