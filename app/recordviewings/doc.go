// Package recordviewings is the record-viewings application of the book: POST
// /record-viewing/:videoId writes VideoViewed {userId?, videoId} to viewing-<videoId> and sends the
// browser back to the page it came from.
//
// Rules: the application owns the viewing category (its contract is viewingmsg's owner) and writes
// nothing else. It validates the video id as a UUID, so a stream name is always a real id, and never
// redirects to another site: the Referer is followed only when it is a path on this site.
package recordviewings
