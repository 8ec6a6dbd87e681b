// Package watch is the public watch page: anyone can watch a published video, and playing it records a
// viewing.
//
// Routes:
//
//	GET /videos              the video index: the published videos, the latest upload first, 24 a
//	                         page (?after=<the previous page's last video>); the home page links it
//	                         when it lists only some of them
//	GET /videos/:id          the page: an HTML5 player with the poster, the name, the description
//	GET /videos/:id/file     the video file (HEAD too), with HTTP range requests (206 + Content-Range)
//	GET /videos/:id/poster   the poster image (HEAD too)
//
// Unknown and unpublished videos are 404, ids that are not UUIDs 400.
//
// Files are found through the creators_portal_videos view: the video id picks the row, the row's media
// URI (transcoded_uri or poster_uri, relative to the media directory) picks the file. No part of the
// request path ever becomes part of a file path, and a URI that would leave the media directory is
// refused, so path traversal is impossible. http.ServeContent answers range, conditional and HEAD
// requests; the write deadline is extended for long downloads.
//
// The page's static/watch.js POSTs to the record-viewings application's /record-viewing/:videoId (with
// the CSRF token in X-CSRF-Token) once, when playback starts.
//
// Rules: the application reads only view data, through the read-only pool, and writes nothing.
package watch
