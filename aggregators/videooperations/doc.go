// Package videooperations is the video-operations aggregator of the book: it records the outcome of
// every name and describe request in video_operations, keyed by the request's trace id, so that the
// creators portal's operation page can tell the creator what became of their change.
//
// It subscribes to videoPublishing (subscriber aggregators:video-operations) for VideoNamed,
// VideoNameRejected, VideoDescribed and VideoDescriptionRejected. The trace id comes from the event's
// metadata (traceId), which the component copies from the command, which the portal set to the
// request's trace id.
//
// Rules: one transaction per read batch; every event is one upsert guarded by the row's position (the
// global position of the event recorded), so applying an event twice changes nothing and a rebuild
// gives the same table. An event without a trace id or video id is logged and skipped.
//
// After the commit it tells the operation's page (topic "video-operation:<traceId>"): on success a
// "redirect" to the video's page in the portal, on a rejection an "update" with
// {"state": "Rejected", "reason": …}.
package videooperations
