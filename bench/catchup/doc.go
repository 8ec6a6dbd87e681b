// Package catchup measures how fast the aggregators catch up with a store that already holds many
// events (a fresh start, or a rebuild from position 0). It has only a test, gated by a flag so that
// `go test ./...` stays fast:
//
//	go test ./bench/catchup -run Catchup -v -timeout 30m -catchup.events=1000000
//
// The test starts a throw-away PostgreSQL (or uses TEST_DATABASE_URL, in a database of its own),
// generates the events with message_store.write_messages (whole chunks of a stream per call, several
// writers), then starts every aggregator's subscriptions as main does and reports, per subscription,
// the time from start to the head of its category and its rate, with the CPU and memory of the Go
// process and of the PostgreSQL server.
package catchup
