package videopublishing

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
)

// Reasons of VideoPublishingFailed that are not a transcoder's verdict.
const (
	ReasonUnreadableCommand = "The publish request could not be read."
	ReasonWrongVideoID      = "The publish request names another video than its stream."
	ReasonInvalidOwner      = "The publish request has no valid owner."
	ReasonInvalidSource     = "The upload's location is not valid."
	ReasonSourceMissing     = "The uploaded file is missing."
)

// HandlePublishVideo handles a PublishVideo command: at most once per video, it transcodes the upload
// and writes VideoPublished, or VideoPublishingFailed when the upload cannot be published. A video
// already published or failed is left alone, so a command handled twice — or a second PublishVideo for
// the same video — writes nothing. It runs in the transcoder's subscription (TranscoderSubscriberID),
// not in the inbox's, so that names and descriptions do not wait for transcodes; the outcome is
// written with the version of a fetch made after the transcode (see writeOutcome).
func (c *Component) HandlePublishVideo(ctx context.Context, m messagestore.Message) error {
	videoID, ok := c.commandVideoID(m)
	if !ok {
		c.skip(m, "the stream id is not a video id")
		return nil
	}
	v, _, err := c.fetchVideo(ctx, videoID)
	if err != nil {
		return err
	}
	if v.Published || v.Failed {
		c.log.Debug("PublishVideo ignored: the video was published or failed before", "videoId", videoID,
			"globalPosition", m.GlobalPosition)
		return nil
	}
	md := m.FollowedFrom()
	log := c.log.With("videoId", videoID, "traceId", m.Metadata.TraceID)

	var cmd videopublishingmsg.PublishVideo
	decodeErr := m.Decode(&cmd)
	fail := func(reason string) error {
		log.Info("video publishing failed", "reason", reason, "sourceUri", cmd.SourceURI)
		_, err := c.writeOutcome(ctx, videoID, videopublishingmsg.VideoPublishingFailed{
			OwnerID: cmd.OwnerID, SourceURI: cmd.SourceURI, VideoID: videoID, Reason: reason}, md)
		return err
	}
	switch {
	case decodeErr != nil:
		return fail(ReasonUnreadableCommand)
	case cmd.VideoID != videoID:
		return fail(ReasonWrongVideoID)
	case !isUUID(cmd.OwnerID):
		return fail(ReasonInvalidOwner)
	}
	source, err := videopublishingmsg.ResolveMediaURI(c.mediaDir, cmd.SourceURI)
	if err != nil {
		return fail(ReasonInvalidSource)
	}
	if _, err := os.Stat(c.mediaDir); err != nil {
		// The media directory itself is missing or unreadable: a volume not mounted (yet), not a
		// missing upload. Wait for it rather than fail every video.
		return messagestore.Transient(fmt.Errorf("publish %s: media directory: %w", videoID, err))
	}
	if st, err := os.Stat(source); errors.Is(err, fs.ErrNotExist) || (err == nil && !st.Mode().IsRegular()) {
		return fail(ReasonSourceMissing)
	} else if err != nil {
		return messagestore.Transient(fmt.Errorf("publish %s: %w", videoID, err))
	}

	published := videopublishingmsg.VideoPublished{
		OwnerID: cmd.OwnerID, SourceURI: cmd.SourceURI, TranscodedURI: cmd.SourceURI, VideoID: videoID}
	out, err := c.transcode(ctx, videoID, source)
	var rejected *RejectedError
	switch {
	case errors.As(err, &rejected):
		return fail(rejected.Reason)
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		// Disk full, media directory not writable, ffmpeg missing or killed: none of it is the upload's
		// fault, and all of it can be fixed — retry rather than fail the video for good.
		log.Warn("transcoding failed for a reason that should pass; will retry", "err", err)
		return messagestore.Transient(fmt.Errorf("publish %s: %w", videoID, err))
	}
	if out.Video {
		published.TranscodedURI = videopublishingmsg.TranscodedURI(videoID)
	}
	if out.Poster {
		published.PosterURI = videopublishingmsg.PosterURI(videoID)
	}
	written, err := c.writeOutcome(ctx, videoID, published, md)
	if err != nil || !written {
		return err
	}
	log.Info("video published", "transcodedUri", published.TranscodedURI, "posterUri", published.PosterURI)
	return nil
}

// maxOutcomeConflicts bounds how often writeOutcome fetches the video again after a version conflict.
const maxOutcomeConflicts = 10

// writeOutcome writes VideoPublished after a transcode. The video was fetched before the transcode,
// which may have taken minutes, during which its names and descriptions went on being written: so it
// is fetched again and written with that version, and a version conflict (a rename written between
// this fetch and the write) fetches again rather than failing the command — which would transcode the
// upload all over again. It writes nothing, and reports false, when the video has meanwhile been
// published or failed (at most once per video).
func (c *Component) writeOutcome(ctx context.Context, videoID string, event any, md messagestore.Metadata) (bool, error) {
	for attempt := 1; ; attempt++ {
		v, version, err := c.fetchVideo(ctx, videoID)
		if err != nil {
			return false, err
		}
		if v.Published || v.Failed {
			c.log.Warn("video published or failed while it was being transcoded; the outcome is dropped", "videoId", videoID)
			return false, nil
		}
		err = c.write(ctx, videoID, version, event, md)
		if err == nil {
			return true, nil
		}
		if !messagestore.IsVersionConflict(err) || attempt >= maxOutcomeConflicts {
			return false, err
		}
	}
}

// transcode prepares the output directories and runs the transcoder.
func (c *Component) transcode(ctx context.Context, videoID, source string) (Outputs, error) {
	video, err := videopublishingmsg.ResolveMediaURI(c.mediaDir, videopublishingmsg.TranscodedURI(videoID))
	if err != nil {
		return Outputs{}, err
	}
	poster, err := videopublishingmsg.ResolveMediaURI(c.mediaDir, videopublishingmsg.PosterURI(videoID))
	if err != nil {
		return Outputs{}, err
	}
	for _, dir := range []string{filepath.Dir(video), filepath.Dir(poster)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Outputs{}, err
		}
	}
	clearParts(c.log, video, poster)
	return c.transcoder.Transcode(ctx, source, video, poster)
}

// clearParts removes the temporary files that earlier transcodes of this video left behind when their
// process was killed (<id>.mp4.part, <id>.<random>.mp4.part: see partName), which nothing else would.
// One that is still being written — by a process frozen while its lease went to this one — fails its
// own rename when it ends, and its outcome is then not needed.
func clearParts(log *slog.Logger, paths ...string) {
	for _, path := range paths {
		ext := filepath.Ext(path)
		base := strings.TrimSuffix(path, ext)
		found, _ := filepath.Glob(escapeGlob(base) + ".*" + escapeGlob(ext) + ".part")
		for _, p := range append(found, path+".part") {
			if err := os.Remove(p); err == nil {
				log.Info("removed what an interrupted transcode left", "file", filepath.Base(p))
			}
		}
	}
}

// escapeGlob quotes the characters filepath.Match treats as special.
func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

func isUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}
