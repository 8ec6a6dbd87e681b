// Package catchup measures how fast the aggregators catch up with a store that already holds many
// events (a fresh start, or a rebuild from position 0). It has only tests: the benchmark, gated by a
// flag so that `go test ./...` stays fast, and a check of the generator that needs no database:
//
//	go test ./bench/catchup -run Catchup -v -timeout 30m -catchup.events=1000000
//
// The test starts a throw-away PostgreSQL (or uses TEST_DATABASE_URL, in a database of its own),
// generates the events with message_store.write_messages (whole chunks of a stream per call, several
// writers), then starts every aggregator's subscriptions as main does and reports, per subscription,
// the time from start to the head of its category and its rate, with the CPU of the Go process and of
// the PostgreSQL server. Memory is reported for the generator and for the catch-up apart: the
// generator builds each chunk when it is written (a few MB whatever the count), and before the
// aggregators start its garbage is returned and the kernel's high-water mark of the resident set is
// reset, so the catch-up's peak RSS is the program's (the test binary's baseline included).
// -catchup.batch sets every subscription's CatchUpBatchSize; -catchup.heapprofile writes a heap
// profile at the catch-up's peak heap.
package catchup
