// Package creatorsportal is the creators-portal application of the book: where signed-in creators
// upload videos, see them with their views and status, and name and describe them.
//
// Routes (all behind app.RequireLogin; anonymous visitors are sent to the log-in page and back):
//
//	GET  /creators-portal/                              dashboard: the creator's videos and the upload form
//	GET  /creators-portal/live                          the dashboard's live updates (SSE)
//	POST /creators-portal/publish-video                 upload (multipart, streamed to disk) → PublishVideo
//	GET  /creators-portal/videos/:id                    the owner's page of a video (others: 404)
//	POST /creators-portal/videos/:id/name               → NameVideo
//	POST /creators-portal/videos/:id/describe           → DescribeVideo
//	GET  /creators-portal/video-operations/:traceId     outcome of a name/describe request
//	GET  /creators-portal/video-operations/:traceId/live  its live updates (SSE)
//
// # Uploads
//
// The upload is read part by part from the request's multipart reader and streamed into a temporary
// file in the media directory — never held in memory, never parsed into a form first. The first 512
// bytes decide whether it is a video (container signatures of MP4/QuickTime, WebM/Matroska, Ogg with a
// Theora or VP8 stream and AVI, then http.DetectContentType); anything else is refused with 400 before
// a byte is written. The file's size is capped at MaxUploadBytes (413 with the limit in the message),
// and the route raises the request body limit to match with app.BodyLimit. A complete upload is synced
// to disk and renamed to uploads/<videoId>.<ext>; the server chooses the video id (a fresh UUID) and
// the extension, never the client. Then PublishVideo {ownerId, sourceUri, videoId} goes to
// videoPublishing:command-<videoId> with sourceUri "file:uploads/<videoId>.<ext>", a URI relative to
// the media directory made by videopublishingmsg.MediaURI (the component resolves it with
// ResolveMediaURI), and the browser is sent to the dashboard.
//
// A refused upload (400 or 413) posted from the form is answered with the dashboard itself, with that
// status and the reason next to the file input (role="alert", referenced by its aria-describedby), so
// the creator keeps their page and can pick another file. API and event-stream clients (by Accept)
// get the shell's plain error; the server's own failures (no space: 503, 500) its error page.
//
// # Operations
//
// Name and describe requests write their command with the request's trace id and the acting user in
// the metadata and send the browser to /creators-portal/video-operations/<traceId>. That page reads
// the video-operations view: pending (it listens to live.VideoOperationTopic(traceId), whose only
// event, "reload", loads the page again once the outcome is recorded), succeeded (303 to the video) or
// rejected (the reason). The page and its live stream apply one rule (ownOperation): a recorded
// operation on someone else's video, or on a video the view does not have, is a 404; one not recorded
// yet is pending for whoever asks, since nothing says whose it is. That is why the live event carries
// no outcome: the outcome is told only by the page, after the ownership check.
//
// Rules: the portal reads view data (creators_portal_videos, video_operations) through the read-only
// pool, and its own commands in a video's inbox only to tell whether a just-uploaded video that no
// view has recorded yet is the signed-in creator's (?uploaded=); it writes only commands to
// video-publishing's inbox, through a writer scoped to its Contract. The component decides everything
// else — validation, ownership — so the portal passes names and descriptions on as typed, once they
// are text PostgreSQL can store (valid UTF-8 without NUL bytes; else 400).
package creatorsportal
