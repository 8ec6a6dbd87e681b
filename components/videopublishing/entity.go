package videopublishing

import (
	"context"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// video is the video-publishing entity, projected from videoPublishing-<videoId>.
type video struct {
	ID            string
	OwnerID       string
	SourceURI     string
	TranscodedURI string
	PosterURI     string
	Published     bool
	Failed        bool
	FailureReason string
	Name          string
	Description   string
	// LastCommandPosition is the greatest global position of a NameVideo or DescribeVideo command
	// this video's events answered (their metadata causationMessageGlobalPosition); -1 before any. Such
	// a command at or below it has been handled. PublishVideo is not counted: it is handled by another
	// subscription, which may be behind the renames (a video is renamed while it is transcoded), and
	// it is idempotent by Published and Failed, once per video.
	LastCommandPosition int64
}

// handled reports whether the NameVideo or DescribeVideo command at global position gpos was handled
// before.
func (v video) handled(gpos int64) bool { return gpos <= v.LastCommandPosition }

// changeOutcomes are the events that answer NameVideo and DescribeVideo.
var changeOutcomes = map[string]bool{
	typeVideoNamed: true, typeVideoNameRejected: true, typeVideoDescribed: true, typeVideoDescriptionRejected: true,
}

var videoProjection = messagestore.Projection[video]{
	Init: func() video { return video{LastCommandPosition: -1} },
	Apply: func(v video, m messagestore.Message) (video, error) {
		if gpos, ok := answeredCommand(m); ok {
			v.LastCommandPosition = max(v.LastCommandPosition, gpos)
		}
		// An event whose data cannot be decoded (another Message DB client's, or another shape) is
		// never readable: failing the projection would make every command of the video fail, and park
		// the subscription of every video's commands. Its type still counts; what its data would say is
		// left unknown (a video published by an unreadable event has no owner who could change it).
		switch m.Type {
		case typeVideoPublished:
			var e videopublishingmsg.VideoPublished
			if m.Decode(&e) == nil {
				v.ID, v.OwnerID, v.SourceURI, v.TranscodedURI, v.PosterURI = e.VideoID, e.OwnerID, e.SourceURI, e.TranscodedURI, e.PosterURI
			}
			v.Published = true
		case typeVideoPublishingFailed:
			var e videopublishingmsg.VideoPublishingFailed
			if m.Decode(&e) == nil {
				v.ID, v.OwnerID, v.SourceURI, v.FailureReason = e.VideoID, e.OwnerID, e.SourceURI, e.Reason
			}
			v.Failed = true
		case typeVideoNamed:
			var e videopublishingmsg.VideoNamed
			if m.Decode(&e) == nil {
				v.Name = e.Name
			}
		case typeVideoDescribed:
			var e videopublishingmsg.VideoDescribed
			if m.Decode(&e) == nil {
				v.Description = e.Description
			}
		}
		return v, nil
	},
}

// answeredCommand returns the global position of the NameVideo or DescribeVideo command that the
// outcome event m answered (its metadata causationMessageGlobalPosition). Only a command of the
// video's own inbox, written before m, counts: an event claiming another inbox's command, or one past
// the event itself (another Message DB client's metadata, an overflowing number), would otherwise make
// the video skip the commands still queued, or every command to come, as handled.
func answeredCommand(m messagestore.Message) (int64, bool) {
	md := m.Metadata
	if !changeOutcomes[m.Type] || md.CausationMessageGlobalPosition == nil {
		return 0, false
	}
	id, ok := messagestore.ID(m.StreamName)
	if !ok || md.CausationMessageStreamName != videopublishingmsg.CommandStreamName(id) {
		return 0, false
	}
	gpos := *md.CausationMessageGlobalPosition
	return gpos, gpos < m.GlobalPosition
}

// fetchVideo projects a video's stream (through the cache: only messages it has not seen are read) and
// returns the version to write against.
func (c *Component) fetchVideo(ctx context.Context, videoID string) (video, int64, error) {
	return messagestore.FetchCached(ctx, c.store, c.videos, videopublishingmsg.StreamName(videoID), videoProjection)
}

// upload is what the video-publishing component knows of a video from its inbox,
// videoPublishing:command-<videoId>, before the video is published: the first PublishVideo written
// there. The creators portal writes it as soon as the upload is stored, so it says that the video
// exists and who owns it while the transcoder is still at work.
type upload struct {
	// Position is the global position of the first PublishVideo in the stream; -1 when there is none.
	Position int64
	// Valid says it names the video of its stream and a valid owner (else it will fail).
	Valid   bool
	OwnerID string
}

var uploadProjection = messagestore.Projection[upload]{
	Init: func() upload { return upload{Position: -1} },
	Apply: func(u upload, m messagestore.Message) (upload, error) {
		if m.Type != typePublishVideo || u.Position >= 0 {
			return u, nil
		}
		u.Position = m.GlobalPosition
		var cmd videopublishingmsg.PublishVideo
		if err := m.Decode(&cmd); err != nil {
			return u, nil // an unreadable PublishVideo: the video will fail, it does not exist
		}
		id, _ := messagestore.CardinalID(m.StreamName)
		u.Valid = cmd.VideoID == id && isUUID(cmd.OwnerID)
		u.OwnerID = cmd.OwnerID
		return u, nil
	},
}

// fetchUpload projects a video's inbox (through its own cache) for its first PublishVideo.
func (c *Component) fetchUpload(ctx context.Context, videoID string) (upload, error) {
	u, _, err := messagestore.FetchCached(ctx, c.store, c.uploads, videopublishingmsg.CommandStreamName(videoID), uploadProjection)
	return u, err
}
