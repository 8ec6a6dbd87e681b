// Package loadtest drives load against a running Video Tutorials program and measures what the
// issues ask for: requests per second and latency percentiles of GET / and POST /record-viewing,
// end-to-end latencies (a viewing visible in the home page view; RegistrationEmailSent after a
// registration), the program's CPU and resident memory from /proc, and that no viewing was lost or
// reordered within its stream. It can also start the program itself: a private PostgreSQL (devdb)
// and 1..n processes sharing it, split by ROLES.
//
// The command is loadtest/cmd/vtload; docs/BENCHMARKS.md has the commands and results.
package loadtest
