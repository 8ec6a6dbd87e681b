// Package videopublishingmsg is the public contract of the video-publishing component.
package videopublishingmsg

import "videotutorials/messagestore"

// Categories of the video-publishing component.
const (
	Category        = "videoPublishing"
	CommandCategory = "videoPublishing:command"
)

// Limits the component enforces (so no aggregator can be stopped by an oversized value).
const (
	MaxNameLength        = 255
	MaxDescriptionLength = 5000
)

// StreamName is the stream of one video.
func StreamName(videoID string) string { return messagestore.StreamName(Category, videoID) }

// CommandStreamName is the command stream of one video.
func CommandStreamName(videoID string) string {
	return messagestore.StreamName(CommandCategory, videoID)
}

// PublishVideo asks to publish (transcode) an uploaded video.
type PublishVideo struct {
	OwnerID   string `json:"ownerId"`
	SourceURI string `json:"sourceUri"`
	VideoID   string `json:"videoId"`
}

// VideoPublished says a video is ready to watch.
type VideoPublished struct {
	OwnerID       string `json:"ownerId"`
	SourceURI     string `json:"sourceUri"`
	TranscodedURI string `json:"transcodedUri"`
	PosterURI     string `json:"posterUri,omitempty"`
	VideoID       string `json:"videoId"`
}

// VideoPublishingFailed says a video could not be published.
type VideoPublishingFailed struct {
	OwnerID   string `json:"ownerId"`
	SourceURI string `json:"sourceUri"`
	VideoID   string `json:"videoId"`
	Reason    string `json:"reason"`
}

// NameVideo asks to rename a video.
type NameVideo struct {
	Name    string `json:"name"`
	VideoID string `json:"videoId"`
}

// VideoNamed says a video was renamed.
type VideoNamed struct {
	Name    string `json:"name"`
	VideoID string `json:"videoId"`
}

// VideoNameRejected says a rename was refused.
type VideoNameRejected struct {
	Name    string `json:"name"`
	VideoID string `json:"videoId"`
	Reason  string `json:"reason"`
}

// DescribeVideo asks to change a video's description.
type DescribeVideo struct {
	Description string `json:"description"`
	VideoID     string `json:"videoId"`
}

// VideoDescribed says a video's description changed.
type VideoDescribed struct {
	Description string `json:"description"`
	VideoID     string `json:"videoId"`
}

// VideoDescriptionRejected says a description change was refused.
type VideoDescriptionRejected struct {
	Description string `json:"description"`
	VideoID     string `json:"videoId"`
	Reason      string `json:"reason"`
}
