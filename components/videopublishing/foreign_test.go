package videopublishing

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// Events in a video's stream that its projection cannot decode (written by another Message DB client,
// or by an older version with another shape) must not make the video unfetchable: every command for
// it would fail, and the failure of one video's command parks the whole inbox, which then answers no
// other video's renames either. What the type says still counts; what the data cannot say is unknown.
func TestUndecodableEventsInAVideosStreamDoNotStopItsCommands(t *testing.T) {
	f := newFixture(t, KeepAsUploaded{})
	owner := uuid.NewString()
	videoID := f.published(t, owner)
	stream := videopublishingmsg.StreamName(videoID)
	for _, bad := range []struct{ typ, data string }{
		{"VideoNamed", `{"name": 5}`},
		{"VideoDescribed", `{"description": ["a", "b"]}`},
		{"VideoNamed", `"just a string"`},
		{"VideoNamed", `null`},
	} {
		if _, err := f.s.Write(ctx, stream, messagestore.AnyVersion,
			messagestore.NewMessage{Type: bad.typ, Data: json.RawMessage(bad.data)}); err != nil {
			t.Fatal(err)
		}
	}
	cmd := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "after the junk", VideoID: videoID})
	if err := f.c.HandleNameVideo(ctx, cmd); err != nil {
		t.Fatalf("NameVideo of a video with undecodable events: %v", err)
	}
	msgs := f.events(t, videoID)
	last := msgs[len(msgs)-1]
	if last.Type != "VideoNamed" || decode[videopublishingmsg.VideoNamed](t, last).Name != "after the junk" {
		t.Fatalf("video stream %v, last %s %s", testdb.Types(msgs), last.Type, last.Data)
	}

	// A VideoPublished whose data cannot be read still says the video was published: its PublishVideo
	// is not transcoded again, and a rename (nobody is known to own it) is rejected, not retried.
	other := uuid.NewString()
	if _, err := f.s.Write(ctx, videopublishingmsg.StreamName(other), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "VideoPublished", Data: json.RawMessage(`{"ownerId": 42}`)}); err != nil {
		t.Fatal(err)
	}
	uri := f.upload(t, other, ".webm", []byte("\x1a\x45\xdf\xa3 webm bytes"))
	if err := f.c.HandlePublishVideo(ctx, f.command(t, other, owner,
		videopublishingmsg.PublishVideo{OwnerID: owner, SourceURI: uri, VideoID: other})); err != nil {
		t.Fatalf("PublishVideo of a video whose VideoPublished is undecodable: %v", err)
	}
	if err := f.c.HandleNameVideo(ctx, f.command(t, other, owner,
		videopublishingmsg.NameVideo{Name: "n", VideoID: other})); err != nil {
		t.Fatalf("NameVideo of a video whose VideoPublished is undecodable: %v", err)
	}
	if got := testdb.Types(f.events(t, other)); !slices.Equal(got, []string{"VideoPublished", "VideoNameRejected"}) {
		t.Fatalf("video stream %v", got)
	}
}

// An outcome event says which command it answered (metadata causationMessageGlobalPosition), and the
// video skips every command at or below the greatest such position as handled. An event of another
// writer claiming to answer a command of another video's inbox, or a command past the event itself
// (no cause comes after its effect), must not make the video drop a rename still queued.
func TestOutcomesThatCannotHaveAnsweredACommandDoNotSkipLaterOnes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		claim func(videoID string, queued messagestore.Message) messagestore.Metadata
	}{
		{"a command of another video's inbox", func(_ string, queued messagestore.Message) messagestore.Metadata {
			pos := queued.GlobalPosition
			return messagestore.Metadata{CausationMessageStreamName: videopublishingmsg.CommandStreamName(uuid.NewString()),
				CausationMessageGlobalPosition: &pos}
		}},
		{"a command after the event", func(videoID string, _ messagestore.Message) messagestore.Metadata {
			future := int64(1) << 62
			return messagestore.Metadata{CausationMessageStreamName: videopublishingmsg.CommandStreamName(videoID),
				CausationMessageGlobalPosition: &future}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, KeepAsUploaded{})
			owner := uuid.NewString()
			videoID := f.published(t, owner)
			queued := f.command(t, videoID, owner, videopublishingmsg.NameVideo{Name: "mine", VideoID: videoID})
			if _, err := f.s.Write(ctx, videopublishingmsg.StreamName(videoID), messagestore.AnyVersion, messagestore.NewEvent(
				videopublishingmsg.VideoNamed{Name: "foreign", VideoID: videoID}, tc.claim(videoID, queued))); err != nil {
				t.Fatal(err)
			}
			if err := f.c.HandleNameVideo(ctx, queued); err != nil {
				t.Fatal(err)
			}
			msgs := f.events(t, videoID)
			last := msgs[len(msgs)-1]
			if last.Type != "VideoNamed" || decode[videopublishingmsg.VideoNamed](t, last).Name != "mine" {
				t.Fatalf("the queued rename was skipped: video stream %v", testdb.Types(msgs))
			}
		})
	}
}
