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
// After the commit it tells the operation's page (topic "video-operation:<traceId>") to "reload", and
// nothing else: the page, loaded again, checks ownership and then redirects to the video or shows the
// rejection. The event carries no outcome because the live stream of a pending operation cannot check
// ownership (the view has no row to check against yet).
package videooperations
