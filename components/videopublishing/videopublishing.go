package videopublishing

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// SubscriberID is the subscriber id of the component's inbox, which handles NameVideo and
// DescribeVideo (persisted state: its position stream). It is the book's.
const SubscriberID = "video-publishing"

// TranscoderSubscriberID is the subscriber id of the subscription that handles PublishVideo on the same
// inbox (persisted state: its position stream), one transcode at a time, apart from the renames.
const TranscoderSubscriberID = "video-publishing:transcoder"

// Message types, spelled as the Go type names of the contract structs (as stored).
var (
	typePublishVideo             = messagestore.TypeName(videopublishingmsg.PublishVideo{})
	typeNameVideo                = messagestore.TypeName(videopublishingmsg.NameVideo{})
	typeDescribeVideo            = messagestore.TypeName(videopublishingmsg.DescribeVideo{})
	typeVideoPublished           = messagestore.TypeName(videopublishingmsg.VideoPublished{})
	typeVideoPublishingFailed    = messagestore.TypeName(videopublishingmsg.VideoPublishingFailed{})
	typeVideoNamed               = messagestore.TypeName(videopublishingmsg.VideoNamed{})
	typeVideoNameRejected        = messagestore.TypeName(videopublishingmsg.VideoNameRejected{})
	typeVideoDescribed           = messagestore.TypeName(videopublishingmsg.VideoDescribed{})
	typeVideoDescriptionRejected = messagestore.TypeName(videopublishingmsg.VideoDescriptionRejected{})
)

// Contract declares video-publishing's streams and its two subscriptions.
var Contract = messagestore.Contract{
	Name:    "video-publishing",
	Kind:    "component",
	Owns:    []string{videopublishingmsg.Category},
	Accepts: []string{videopublishingmsg.CommandCategory},
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: videopublishingmsg.CommandCategory,
			Types: []string{typeNameVideo, typeDescribeVideo}},
		{SubscriberID: TranscoderSubscriberID, Category: videopublishingmsg.CommandCategory,
			Types: []string{typePublishVideo}},
	},
}

// DefaultTranscodeTimeout bounds one ffmpeg run: generous, because a large upload on a small machine
// takes a while, but finite, so that a wedged ffmpeg cannot hold the inbox forever.
const DefaultTranscodeTimeout = 2 * time.Hour

// Deps are what video-publishing needs.
type Deps struct {
	Store  *messagestore.Store
	Logger *slog.Logger
	// MediaDir is the media directory (MEDIA_DIRECTORY) the media URIs are relative to.
	MediaDir string
	// Transcoder turns an upload into a web video and a poster. Nil: FFmpeg when ffmpeg is on PATH,
	// otherwise KeepAsUploaded.
	Transcoder Transcoder
	// TranscodeTimeout bounds one transcoding (default DefaultTranscodeTimeout). Used only when
	// Transcoder is nil.
	TranscodeTimeout time.Duration
}

// Component is the video-publishing component.
type Component struct {
	store      *messagestore.Store
	writer     *messagestore.Writer
	log        *slog.Logger
	mediaDir   string
	transcoder Transcoder
	// videos keeps recently projected videos, so that a fetch reads only a stream's new messages.
	// It is shared by both subscriptions (the cache is safe for concurrent use).
	videos *messagestore.EntityCache[video]
	// uploads keeps recently projected inboxes of videos not published yet (see upload).
	uploads *messagestore.EntityCache[upload]
}

// EntityCacheSize is how many videos the component keeps in memory.
const EntityCacheSize = 10000

// UploadCacheSize is how many inboxes of videos being published the component keeps in memory.
const UploadCacheSize = 1000

// New returns the component.
func New(d Deps) *Component {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", Contract.Name)
	t := d.Transcoder
	if t == nil {
		t = DefaultTranscoder(d.TranscodeTimeout)
		if _, keep := t.(KeepAsUploaded); keep {
			log.Info("ffmpeg is not on PATH: uploaded videos are published as they are, without transcoding or posters")
		}
	}
	return &Component{
		store:      d.Store,
		writer:     d.Store.WriterFor(Contract),
		log:        log,
		mediaDir:   d.MediaDir,
		transcoder: t,
		videos:     messagestore.NewEntityCache[video](EntityCacheSize),
		uploads:    messagestore.NewEntityCache[upload](UploadCacheSize),
	}
}

// Subscriptions returns the component's two subscriptions on its inbox, each run by main under a
// lease of its own: the inbox (SubscriberID: NameVideo, DescribeVideo) and the transcoder
// (TranscoderSubscriberID: PublishVideo), so that a long transcode holds back only the uploads behind
// it, never a rename.
func (c *Component) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID: SubscriberID,
		Category:     videopublishingmsg.CommandCategory,
		Handlers: map[string]messagestore.Handler{
			typeNameVideo:     c.HandleNameVideo,
			typeDescribeVideo: c.HandleDescribeVideo,
		},
	}, {
		SubscriberID: TranscoderSubscriberID,
		Category:     videopublishingmsg.CommandCategory,
		Handlers: map[string]messagestore.Handler{
			typePublishVideo: c.HandlePublishVideo,
		},
	}}
}

// commandVideoID returns the video id of a command: the id of its stream, which must be a UUID (there
// is no other stream to answer in).
func (c *Component) commandVideoID(m messagestore.Message) (string, bool) {
	id, ok := messagestore.CardinalID(m.StreamName)
	if !ok {
		return "", false
	}
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		return "", false
	}
	return id, true
}

// skip logs a command that cannot be answered: retrying it would only park the subscription.
func (c *Component) skip(m messagestore.Message, why string, args ...any) {
	c.log.Error("skipping a command: "+why, append([]any{"stream", m.StreamName, "type", m.Type,
		"globalPosition", m.GlobalPosition}, args...)...)
}

// write appends one event to a video's stream with the version from the fetch.
func (c *Component) write(ctx context.Context, videoID string, version int64, data any, md messagestore.Metadata) error {
	stream := videopublishingmsg.StreamName(videoID)
	_, err := c.writer.Write(ctx, stream, version, messagestore.NewEvent(data, md))
	if messagestore.IsVersionConflict(err) {
		c.videos.Invalidate(stream) // the retry projects the stream afresh
	}
	return err
}
