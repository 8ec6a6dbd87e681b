// Package loadtest drives load against a running Video Tutorials program and measures what the
// issues ask for: requests per second and latency percentiles of GET / and POST /record-viewing,
// end-to-end latencies (a viewing visible in the home page view; RegistrationEmailSent after a
// registration), the program's CPU and resident memory from /proc, and that no viewing was lost or
// reordered within its stream. It can also start the program itself: a private PostgreSQL (devdb)
// and 1..n processes sharing it, split by ROLES.
//
// The driver shares the program's cores, so its own cost is part of every figure. Three clients send
// the requests: EpollClient (the default: event loops on locked threads over non-blocking sockets, as
// wrk is built), RawGetter (a goroutine per connection writing a fixed request) and Client (net/http).
// With the same CPU, the epoll client answers as many requests as wrk and more than the goroutine
// client, whose wake-ups compete with the program's (docs/BENCHMARKS.md, "The driver's own client").
//
// The command is loadtest/cmd/vtload; docs/BENCHMARKS.md has the commands and results.
package loadtest
