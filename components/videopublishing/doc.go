// Package videopublishing is the video-publishing component of the book: it publishes the videos
// creators upload (transcoding them for the web when ffmpeg is installed) and keeps their names and
// descriptions.
//
// It owns the videoPublishing category (one stream per video: videoPublishing-<videoId>) and accepts
// PublishVideo, NameVideo and DescribeVideo in its inbox videoPublishing:command, which it reads with
// two subscriptions: `video-publishing` (the book's id) handles NameVideo and DescribeVideo, and
// `video-publishing:transcoder` handles PublishVideo. Each skips the other's commands, so a transcode,
// however long, holds back only the uploads queued behind it, never a rename or a description.
//
//   - PublishVideo → at most once per video: the upload is transcoded to an H.264/AAC MP4 with
//     `-movflags +faststart` (playable while it downloads) plus a poster JPEG taken about one second
//     in, and VideoPublished {ownerId, sourceUri, transcodedUri, posterUri, videoId} is written; when
//     ffmpeg is not on PATH the upload is published as it is (transcodedUri = sourceUri, no poster).
//     Input ffmpeg cannot read is VideoPublishingFailed {…, reason}.
//   - NameVideo / DescribeVideo → validated (not blank after trimming, at most 255 / 5000 characters,
//     text without control characters or direction overrides and isolates, the video exists and has not failed, the acting user — metadata userId — owns it) → VideoNamed /
//     VideoDescribed, or VideoNameRejected / VideoDescriptionRejected with a reason a person can read.
//     A video exists once published, and also while it is being published: its inbox
//     videoPublishing:command-<videoId> holds a PublishVideo written before the command, naming that
//     video and a valid owner, whose ownerId is then the owner. So a video can be named as soon as it
//     is uploaded; its VideoNamed may come before its VideoPublished, which changes no name.
//
// # Media URIs
//
// Files are named by URIs relative to the media directory (MEDIA_DIRECTORY), never by absolute paths,
// so that the directory can move and several processes can mount it at different places:
//
//	file:uploads/<videoId>.<ext>   the upload as the creators portal stored it (sourceUri)
//	file:videos/<videoId>.mp4      the transcoded video (transcodedUri)
//	file:posters/<videoId>.jpg     the poster (posterUri)
//
// A URI is resolved with videopublishingmsg.ResolveMediaURI (shared with the watch application), which
// refuses anything that would leave the media directory.
//
// # Rules
//
// Every handler fetches the video by projecting videoPublishing-<videoId> (all of it), decides, and
// writes with the version from the fetch, so a concurrent write — the two subscriptions write to the
// same streams — is a version conflict that the subscription retries. PublishVideo fetches the video
// again after transcoding and writes with that version (fetching again on a conflict), so a rename
// written during a transcode does not make it start over. Every event follows from its command
// (FollowedFrom: trace, acting user, causation).
//
// Idempotence: PublishVideo is handled at most once per video — a video already published or failed
// is left alone. For NameVideo and DescribeVideo the projection keeps the greatest
// causationMessageGlobalPosition of the NameVideo and DescribeVideo commands answered: such a command
// at or below it was handled before and is skipped. This is the book's idempotence check done right —
// the book compared the command with the position of the entity's last event, so a second rename
// queued before the first was handled was silently dropped; here both are answered and the later name
// wins. PublishVideo's position is not part of it: the transcoder may be behind the renames, and its
// command must not be taken for handled because a later rename was.
//
// Errors that go away by themselves — the database is unreachable, the disk is full, the media
// directory is not writable for a while, the process is shutting down — are returned as
// messagestore.Transient, so the subscription retries the command for as long as it takes instead of
// turning them into a permanent VideoPublishingFailed. Only a verdict about the input itself (ffmpeg
// rejects the file, the upload is missing, the command is invalid) becomes a failure event.
//
// Transcoding runs inside the transcoder's handler, one upload at a time: a long transcode holds back
// the uploads behind it, not the renames. ffmpeg runs with a context and a generous timeout
// (TranscodeTimeout). The transcoder's position moves past a PublishVideo only once its outcome is
// written, so a transcode cut short — a crash, a shutdown, a lost lease — is done again.
package videopublishing
