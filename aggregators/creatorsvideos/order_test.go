package creatorsvideos

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// The upload (the creator's PublishVideo) and the outcome events come through two subscriptions, so
// they are applied in either order, and a rebuild must end with the row the live view has. An outcome
// whose ownerId cannot be read (another Message DB client's; the owner is then NULL) must not make
// the result depend on that order: the owner the upload named stays, whichever came first.
func TestAnOutcomeWithoutAReadableOwnerGivesTheSameRowInEitherOrder(t *testing.T) {
	a, _ := newAggregator()
	rows := map[string]row{}
	for _, order := range []string{"upload first", "outcome first"} {
		videoID, owner := uuid.NewString(), uuid.NewString()
		at := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
		upload := msg(t, videopublishingmsg.CommandStreamName(videoID),
			videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: "file:uploads/x.webm", VideoID: videoID}, at)
		failed := msg(t, videopublishingmsg.StreamName(videoID),
			videopublishingmsg.VideoPublishingFailed{OwnerID: "not a uuid", SourceURI: "file:uploads/x.webm",
				VideoID: videoID, Reason: "r"}, at)
		batches := [][]messagestore.Message{{upload}, {failed}}
		if order == "outcome first" {
			batches = [][]messagestore.Message{{failed}, {upload}}
		}
		apply(t, a, batches...)
		r := load(t, videoID)
		if r.Owner != owner {
			t.Errorf("%s: owner %q, want the upload's %s", order, r.Owner, owner)
		}
		// Each order has messages of its own: positions are compared as written, the rest as is.
		if r.Upload != upload.GlobalPosition || r.StatusPos != failed.GlobalPosition {
			t.Errorf("%s: watermarks %+v", order, r)
		}
		r.ID, r.Owner, r.Position, r.Upload, r.StatusPos = "", "", 0, 0, 0
		rows[order] = r
	}
	if rows["upload first"] != rows["outcome first"] {
		t.Errorf("rows differ by order:\n upload first  %+v\n outcome first %+v", rows["upload first"], rows["outcome first"])
	}
}
