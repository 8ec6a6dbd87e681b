// Package reliability is a test suite that runs the real, built program as child processes against a
// throw-away PostgreSQL and breaks things on purpose while a load driver uses it over HTTP: SIGKILL at
// random moments, a database restart, a poison message, duplicate deliveries and races, several
// processes sharing the subscriptions, bad input, and a rebuild of the view data. Every scenario ends
// by checking the same invariants over the message store, the view data, the pickup directory and the
// pages (checkInvariants in invariants_test.go).
//
// The package has no code of its own outside its tests. A plain `go test ./...` runs the short
// version of every scenario (about a minute on two cores, plus building the binary); the long
// versions — longer loads, more kills, the ten-minute memory run — need a flag:
//
//	go test ./reliability                                          # short versions
//	go test ./reliability -run TestCrash -v                        # one scenario, with its figures
//	go test ./reliability -reliability.long -timeout 60m -v        # long versions and the memory run
//
// The program is built once per test binary from the module root (RELIABILITY_BINARY names a prebuilt
// one instead). docs/RELIABILITY.md lists what each scenario does, what it found and the figures.
package reliability
