// Package creatorsvideos is the creators-videos aggregator of the book: it keeps creators_portal_videos,
// one row per video with its owner, name, description, views, files and publishing status, which the
// creators portal's dashboard and video pages, the public watch page and the home page's list read.
//
// It runs three subscriptions, each applying one read batch in one transaction:
//
//   - aggregators:creators-videos (videoPublishing: VideoPublished, VideoPublishingFailed, VideoNamed,
//     VideoDescribed) — status, files, failure reason, name and description;
//   - aggregators:creators-videos:viewings (viewing: VideoViewed) — the view count. It lingers
//     before its reads (10 ms, 60 ms between the reads of a steady stream), so a count may be that
//     late: under load, larger batches cost the database far less per viewing;
//   - aggregators:creators-videos:uploads (videoPublishing:command: PublishVideo) — the upload as
//     "processing" as soon as the creators portal asked for it, so the dashboard shows it while the
//     component is still transcoding. Reading the command changes nothing anywhere but this view.
//
// Rules: every publishing message is one upsert guarded by a watermark, so applying it twice changes
// nothing; the viewings of a batch are counted by two set-based statements that compare each viewing's
// global position with its video's views_position, so a replayed or overlapping batch counts nothing
// twice.
// The categories are read independently, so any of them may come first (a viewing before the video
// is published): rows are created with defaults by whichever arrives first, and each group of columns
// has its own watermark — status and files (status_position), name (name_position), description
// (description_position), the upload (upload_position), views (views_position) — holding the global
// position of the message that last set it. A field takes the value of the message with the greatest
// global position whatever the order of application, so a rebuild from position 0 gives the same
// table; "processing" never overwrites a published or failed status. uploaded_at is the earliest time
// of the upload command and the status event. Views are counted once each: views_position is the global
// position of the last viewing counted for the video, and viewings of one category arrive in order.
// A message without a usable video id (a stream id that is not a UUID, undecodable data) is logged and
// skipped: no message can stop the aggregator, and the text columns cannot overflow.
//
// After each commit the owners' dashboards are told (topic "dashboard:<ownerId>", event "update")
// the new name, views, status and failure reason of the videos that changed, as
// {"<videoId>.name": …, "<videoId>.views": …, "<videoId>.status": …, "<videoId>.reason": …}.
package creatorsvideos
