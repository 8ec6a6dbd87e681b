// Package messagestore is the Go client of the message store: a PostgreSQL schema that behaves like
// Message DB 1.3.0 (see the README's "Message store compatibility"), which every component,
// aggregator and application of Video Tutorials reads and writes.
//
// It offers what the book's message-store module offers, and fixes its weaknesses:
//
//   - Write appends one message or a batch to one stream atomically, optionally with an expected
//     version; a conflict comes back as *VersionConflictError carrying the stream, the expected and the
//     actual version (-1 for an empty stream), never with the numbers swapped.
//   - ReadStream, ReadCategory (with correlation and consumer groups), LastMessage and StreamVersion
//     call the store's SQL functions, so anything this package writes any Message DB client can read.
//   - Fetch projects an entity from its whole stream, paging through it (no 1,000-message cap), and
//     returns the version to write against.
//   - Subscription reads a category from its stored position, hands each message to a typed handler,
//     always advances past messages it filters out, saves its position as book-compatible
//     `Read {position}` messages after a number of messages or an interval and at shutdown, wakes within
//     milliseconds of a write (in-process signal and LISTEN/NOTIFY) and polls with back-off when idle,
//     retries failures with back-off and parks on a message that keeps failing (visible and retryable,
//     without stopping anything else), and runs in at most one process at a time (a lease). Processes
//     that run the same subscriptions share the leases evenly (Leases, Supervisor).
//   - Writes without an expected version to one category are combined into shared transactions under
//     load (group commit, combine.go), so a hot category such as viewing-* is not limited to one
//     transaction per write. A caller that gives up (its context ends) while its write is still
//     queued gets the context's error and the write is dropped; once a batch has taken it, its
//     outcome is unknown, as for any cancelled database call.
//   - A write whose answer is lost (the connection breaks after the statement went out) is looked up
//     by its message ids before it is reported: found, it is reported written (outcome.go). A combined
//     batch's writes that are not found go again under the same ids, which the unique id index makes
//     safe.
//   - FetchCached keeps recently projected entities (EntityCache) and reads only a stream's new
//     messages.
//   - Contract and Writer scope every write: an application or component may append only to the
//     categories its contract owns or sends commands to (*ContractError otherwise).
//
// Rules: this package imports nothing else of the project. Every SQL statement here calls the
// message_store functions or reads the messages table; no view data lives here.
package messagestore
