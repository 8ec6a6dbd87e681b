package creatorsvideos

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// Other Message DB clients may spell a video id in any form github.com/google/uuid accepts
// (upper case, braces, no hyphens, "urn:uuid:"), and PostgreSQL's uuid type refuses the last one. A
// message in such a stream must neither stop the aggregator (an error here is retried until the
// subscription parks) nor be counted apart from the same video spelt the usual way.
func TestVideoIDsInOtherUUIDFormsAreTheSameVideo(t *testing.T) {
	a, _ := newAggregator()
	id := uuid.NewString()
	now := time.Now().UTC()
	forms := []string{id, strings.ToUpper(id), "urn:uuid:" + id, "{" + id + "}", strings.ReplaceAll(id, "-", "")}
	var batch []messagestore.Message
	for _, f := range forms {
		batch = append(batch, msg(t, viewingmsg.StreamName(f), viewingmsg.VideoViewed{VideoID: f}, now))
	}
	if err := a.HandleMessages(ctx, batch); err != nil {
		t.Fatalf("viewings of one video spelt %d ways: %v", len(forms), err)
	}
	if got := load(t, id).Views; got != int64(len(forms)) {
		t.Fatalf("views %d, want %d (one per viewing, whatever the spelling)", got, len(forms))
	}
	named := msg(t, videopublishingmsg.StreamName("urn:uuid:"+id), videopublishingmsg.VideoNamed{VideoID: id, Name: "urn"}, now)
	if err := a.HandleMessages(ctx, []messagestore.Message{named}); err != nil {
		t.Fatalf("a VideoNamed in stream %s: %v", named.StreamName, err)
	}
	if got := load(t, id).Name; got != "urn" {
		t.Fatalf("name %q, want %q", got, "urn")
	}
	owner := uuid.NewString()
	up := msg(t, videopublishingmsg.CommandStreamName(id), videopublishingmsg.PublishVideo{OwnerID: "urn:uuid:" + owner,
		SourceURI: "x", VideoID: id}, now)
	if err := a.HandleMessages(ctx, []messagestore.Message{up}); err != nil {
		t.Fatalf("a PublishVideo whose owner id is a urn: %v", err)
	}
	if got := load(t, id).Owner; got != owner {
		t.Fatalf("owner %q, want %q", got, owner)
	}
}
