// Package home is the home application of the book: GET / shows "Viewers have watched N videos" from
// the home page view and a button that records a viewing of the demo video (the book's home page does
// the same with a fixed video id), and below it the latest published videos with their view counts,
// each linking to its watch page.
//
// The counter updates in place: the page's counter element points data-live-src at GET /live/home, a
// server-sent event stream of the hub topic "home" (see app/live and templates/static/live.js). The
// home-page aggregator publishes its new count on that topic as the event "videosWatched" with the
// count as data; the page script understands only "update" events carrying a JSON object, so Run
// relays each count as {"videosWatched": "N", "videosWatchedUnit": "videos"} on the same topic.
//
// Rules: the application reads view data only (through a read-only querier) and writes no messages;
// the button posts to the record-viewings application, which it knows only by its URL.
package home
