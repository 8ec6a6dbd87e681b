package videopublishing

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// Reasons of VideoNameRejected and VideoDescriptionRejected, shown to the creator on the operation
// page. The limits come from the contract so that no view can overflow.
var (
	ReasonNameBlank          = "The name is blank."
	ReasonNameTooLong        = fmt.Sprintf("The name is longer than %d characters.", videopublishingmsg.MaxNameLength)
	ReasonNameNotText        = "The name must be a single line of text."
	ReasonDescriptionBlank   = "The description is blank."
	ReasonDescriptionTooLong = fmt.Sprintf("The description is longer than %d characters.", videopublishingmsg.MaxDescriptionLength)
	ReasonDescriptionNotText = "The description contains characters that are not text."
	// ReasonDirectionControls refuses the invisible characters that reverse or isolate the direction
	// of the text after them (U+202A–U+202E, U+2066–U+2069): a name with one reverses the page title
	// and the admin views' lines around it.
	ReasonDirectionControls = "The text contains invisible characters that change the direction of the text around it."
	ReasonNoSuchVideo       = "There is no such video."
	ReasonVideoFailed       = "The video could not be published, so it cannot be changed."
	ReasonNotOwner          = "Only the video's owner can change it."
	ReasonWrongCommandVideo = "The request names another video than its stream."
	ReasonUnreadable        = "The request could not be read."
)

// HandleNameVideo handles a NameVideo command: VideoNamed with the trimmed name, or VideoNameRejected
// with the reason. A command handled before (at or below the video's last command position) is
// skipped; a later one is always answered, so two renames queued together both get an outcome and the
// later name wins.
func (c *Component) HandleNameVideo(ctx context.Context, m messagestore.Message) error {
	var cmd videopublishingmsg.NameVideo
	return c.handleChange(ctx, m, &cmd, func(v video, up upload, decodeErr error) (any, string) {
		name := strings.TrimSpace(cmd.Name)
		reason := c.check(m, v, up, decodeErr, cmd.VideoID)
		if reason == "" {
			reason = checkText(name, videopublishingmsg.MaxNameLength, false,
				ReasonNameBlank, ReasonNameTooLong, ReasonNameNotText)
		}
		if reason != "" {
			return videopublishingmsg.VideoNameRejected{Name: cmd.Name, VideoID: v.ID, Reason: reason}, reason
		}
		return videopublishingmsg.VideoNamed{Name: name, VideoID: v.ID}, ""
	})
}

// HandleDescribeVideo handles a DescribeVideo command like HandleNameVideo: VideoDescribed with the
// trimmed description, or VideoDescriptionRejected. Line breaks are allowed in a description.
func (c *Component) HandleDescribeVideo(ctx context.Context, m messagestore.Message) error {
	var cmd videopublishingmsg.DescribeVideo
	return c.handleChange(ctx, m, &cmd, func(v video, up upload, decodeErr error) (any, string) {
		description := strings.TrimSpace(cmd.Description)
		reason := c.check(m, v, up, decodeErr, cmd.VideoID)
		if reason == "" {
			reason = checkText(description, videopublishingmsg.MaxDescriptionLength, true,
				ReasonDescriptionBlank, ReasonDescriptionTooLong, ReasonDescriptionNotText)
		}
		if reason != "" {
			return videopublishingmsg.VideoDescriptionRejected{Description: cmd.Description, VideoID: v.ID, Reason: reason}, reason
		}
		return videopublishingmsg.VideoDescribed{Description: description, VideoID: v.ID}, ""
	})
}

// handleChange is the shape of both metadata commands: fetch, skip if handled, decide, write. A video
// neither published nor failed yet may be one being transcoded: its inbox is read for the
// PublishVideo that says so (and who owns it).
func (c *Component) handleChange(ctx context.Context, m messagestore.Message, cmd any,
	decide func(v video, up upload, decodeErr error) (event any, reason string)) error {
	videoID, ok := c.commandVideoID(m)
	if !ok {
		c.skip(m, "the stream id is not a video id")
		return nil
	}
	v, version, err := c.fetchVideo(ctx, videoID)
	if err != nil {
		return err
	}
	if v.handled(m.GlobalPosition) {
		c.log.Debug(m.Type+" ignored: handled before", "videoId", videoID, "globalPosition", m.GlobalPosition,
			"lastCommandPosition", v.LastCommandPosition)
		return nil
	}
	v.ID = videoID
	up := uploadProjection.Init()
	if !v.Published && !v.Failed {
		if up, err = c.fetchUpload(ctx, videoID); err != nil {
			return err
		}
	}
	event, reason := decide(v, up, m.Decode(cmd))
	if err := c.write(ctx, videoID, version, event, m.FollowedFrom()); err != nil {
		return err
	}
	log := c.log.With("videoId", videoID, "traceId", m.Metadata.TraceID, "userId", m.Metadata.UserID)
	if reason != "" {
		log.Info(m.Type+" rejected", "reason", reason)
	} else {
		log.Info(m.Type + " done")
	}
	return nil
}

// check returns why a change of v is refused regardless of the new text, or "". The video exists
// when it is published, or while it is being published: its inbox holds a valid PublishVideo written
// before the command (up), whose ownerId is then the owner. A video that failed cannot be changed.
func (c *Component) check(m messagestore.Message, v video, up upload, decodeErr error, cmdVideoID string) string {
	switch {
	case decodeErr != nil:
		return ReasonUnreadable
	case cmdVideoID != v.ID:
		return ReasonWrongCommandVideo
	case v.Failed:
		return ReasonVideoFailed
	}
	owner := v.OwnerID
	if !v.Published {
		if up.Position < 0 || up.Position > m.GlobalPosition || !up.Valid {
			return ReasonNoSuchVideo
		}
		owner = up.OwnerID
	}
	if m.Metadata.UserID == "" || m.Metadata.UserID != owner {
		return ReasonNotOwner
	}
	return ""
}

// checkText validates a trimmed name or description: not blank, at most limit characters (runes, as a
// person counts them), valid UTF-8 without control characters (line breaks and tabs allowed only when
// multiline) or direction controls.
func checkText(s string, limit int, multiline bool, blank, tooLong, notText string) string {
	switch {
	case s == "":
		return blank
	case !utf8.ValidString(s):
		return notText
	case !shows(s):
		return blank
	case utf8.RuneCountInString(s) > limit:
		return tooLong
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return notText
		}
		if directionControl(r) {
			return ReasonDirectionControls
		}
	}
	return ""
}

// directionControl reports whether r is a bidirectional embedding, override or isolate (U+202A–U+202E,
// U+2066–U+2069). The marks LRM and RLM (U+200E, U+200F) only nudge the text next to them and stay.
func directionControl(r rune) bool {
	return ('\u202a' <= r && r <= '\u202e') || ('\u2066' <= r && r <= '\u2069')
}

// shows reports whether s has a character that shows on the page. A name made only of zero-width
// spaces, joiners, directional marks (format characters), combining marks, variation selectors or
// Hangul fillers passes the other checks and is an empty link on the dashboard and the home page: it
// is as blank as spaces are.
func shows(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
			return true
		}
	}
	return false
}
