// Package videopublishing is the video-publishing component of the book: it publishes the videos
// creators upload (transcoding them for the web when ffmpeg is installed) and keeps their names and
// descriptions.
//
// It owns the videoPublishing category (one stream per video: videoPublishing-<videoId>) and accepts
// PublishVideo, NameVideo and DescribeVideo in its inbox videoPublishing:command, which it reads with
// one subscription, `video-publishing`.
//
//   - PublishVideo → at most once per video: the upload is transcoded to an H.264/AAC MP4 with
//     `-movflags +faststart` (playable while it downloads) plus a poster JPEG taken about one second
//     in, and VideoPublished {ownerId, sourceUri, transcodedUri, posterUri, videoId} is written; when
//     ffmpeg is not on PATH the upload is published as it is (transcodedUri = sourceUri, no poster).
//     Input ffmpeg cannot read is VideoPublishingFailed {…, reason}.
//   - NameVideo / DescribeVideo → validated (not blank after trimming, at most 255 / 5000 characters,
//     the video is published, the acting user — metadata userId — owns it) → VideoNamed /
//     VideoDescribed, or VideoNameRejected / VideoDescriptionRejected with a reason a person can read.
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
// A URI is resolved with ResolveMediaURI, which refuses anything that would leave the media directory.
//
// # Rules
//
// Every handler fetches the video by projecting videoPublishing-<videoId> (all of it), decides, and
// writes with the version from the fetch, so a concurrent write is a version conflict that the
// subscription retries. Every event follows from its command (FollowedFrom: trace, acting user,
// causation), and the projection keeps the greatest causationMessageGlobalPosition of the commands
// handled: a command at or below it was handled before and is skipped. This is the book's idempotence
// check done right — the book compared the command with the position of the entity's last event, so
// a second rename queued before the first was handled was silently dropped; here both are answered and
// the later name wins.
//
// Errors that go away by themselves — the database is unreachable, the disk is full, the media
// directory is not writable for a while, the process is shutting down — are returned as
// messagestore.Transient, so the subscription retries the command for as long as it takes instead of
// turning them into a permanent VideoPublishingFailed. Only a verdict about the input itself (ffmpeg
// rejects the file, the upload is missing, the command is invalid) becomes a failure event.
//
// Transcoding runs inside the handler, so a long transcode holds back the commands behind it (renames
// of other videos included); ffmpeg runs with a context and a generous timeout (TranscodeTimeout).
package videopublishing
