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
	// LastCommandPosition is the greatest global position of a command this video's events answered
	// (their metadata causationMessageGlobalPosition); -1 before any. A command at or below it has
	// been handled.
	LastCommandPosition int64
}

// handled reports whether the command at global position gpos was handled before.
func (v video) handled(gpos int64) bool { return gpos <= v.LastCommandPosition }

var videoProjection = messagestore.Projection[video]{
	Init: func() video { return video{LastCommandPosition: -1} },
	Apply: func(v video, m messagestore.Message) (video, error) {
		md := m.Metadata
		if md.CausationMessageGlobalPosition != nil &&
			messagestore.Category(md.CausationMessageStreamName) == videopublishingmsg.CommandCategory {
			v.LastCommandPosition = max(v.LastCommandPosition, *md.CausationMessageGlobalPosition)
		}
		switch m.Type {
		case typeVideoPublished:
			var e videopublishingmsg.VideoPublished
			if err := m.Decode(&e); err != nil {
				return v, err
			}
			v.ID, v.OwnerID, v.SourceURI, v.TranscodedURI, v.PosterURI = e.VideoID, e.OwnerID, e.SourceURI, e.TranscodedURI, e.PosterURI
			v.Published = true
		case typeVideoPublishingFailed:
			var e videopublishingmsg.VideoPublishingFailed
			if err := m.Decode(&e); err != nil {
				return v, err
			}
			v.ID, v.OwnerID, v.SourceURI, v.FailureReason = e.VideoID, e.OwnerID, e.SourceURI, e.Reason
			v.Failed = true
		case typeVideoNamed:
			var e videopublishingmsg.VideoNamed
			if err := m.Decode(&e); err != nil {
				return v, err
			}
			v.Name = e.Name
		case typeVideoDescribed:
			var e videopublishingmsg.VideoDescribed
			if err := m.Decode(&e); err != nil {
				return v, err
			}
			v.Description = e.Description
		}
		return v, nil
	},
}

// fetchVideo projects a video's stream (through the cache: only messages it has not seen are read) and
// returns the version to write against.
func (c *Component) fetchVideo(ctx context.Context, videoID string) (video, int64, error) {
	return messagestore.FetchCached(ctx, c.store, c.videos, videopublishingmsg.StreamName(videoID), videoProjection)
}
