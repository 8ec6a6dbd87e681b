// Package live pushes small page updates to browsers with server-sent events
// (SSE), so that the home counter, a video operation's status, the creators'
// dashboard and the admin subscriber lag change in place instead of on reload.
//
// # Pieces
//
//   - Hub: an in-process publish/subscribe switch keyed by topic. Producers
//     call Publish(topic, event, data); each open page holds a Subscription
//     to one or more topics. Publish never blocks: a subscriber that falls
//     more than its buffer behind is dropped and told to reload, so a slow
//     browser can never stall an aggregator.
//   - Stream: writes one Subscription to an http.ResponseWriter as an SSE
//     stream, with a retry hint, periodic heartbeats (so proxies keep the
//     connection open and dead clients are noticed), a flush after every
//     event, and a clean return when the client leaves, the optional Stop
//     channel closes (server shutdown), the optional Valid check fails (the
//     session that opened the stream was logged out) or the hub closes. The subscription is
//     always closed on return, so nothing leaks.
//   - app.LiveStream (in package app) adapts Stream to an Echo route; pages
//     point data-live-src at that route (see templates/doc.go for the
//     attribute contract and static/live.js for the client).
//
// # Topics and events (the contract with producers)
//
// Producers live in packages that may not import app (aggregators), so they
// declare their own one-method interface, satisfied by *Hub:
//
//	type Notifier interface{ Publish(topic, event, data string) }
//
// and use these topic names:
//
//	"home"                        the home page counters
//	"video-operation:<traceId>"   outcome of a name/describe command
//	"dashboard:<userId>"          one creator's videos
//	"admin:subscribers"           subscriber positions and lag
//
// Event names understood by the page script:
//
//	"update"    data is a JSON object {"field": value}; elements with
//	            data-live-field="field" show value as text
//	"redirect"  data is a same-origin URL to navigate to
//	"reload"    the page reloads
//
// Update data should be a full snapshot of the fields it carries (e.g. the
// current count, not "+1"): the hub retains the last event of each topic for
// a short while and replays it to a new subscriber, which closes the gap
// between rendering a page and its stream connecting, and a dropped event is
// then repaired by the next one.
//
// # Limits
//
// The hub is in-process. When the web and aggregator roles run in different
// processes, main carries the events between them: a worker publishes them
// with NOTIFY on the view database and each web process LISTENs and feeds
// them to its hub (web.go: liveBridge, listenLive). A payload over about
// 8 KB is dropped; the page then shows the change on its next load.
package live
