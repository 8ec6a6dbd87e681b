// Package devdb runs the private PostgreSQL server that makes `go run .` a demo that just works.
//
// When no DATABASE_URL is given, the program starts a PostgreSQL server from the locally installed
// server binaries, keeps its data in a directory under the working tree (.devdata/ by default), listens
// on 127.0.0.1 only, and stops it last when the program shuts down. The tests use the same code to start
// a throw-away server per test binary (see ForTests), unless TEST_DATABASE_URL points them elsewhere.
//
// Rules:
//   - PostgreSQL refuses to run as root, so when we are root the server runs as the unprivileged
//     "postgres" user if it exists, else as "nobody"; the data directory is handed to that user.
//   - The server is put in its own process group, so a Ctrl-C in the terminal reaches only our program,
//     which then stops the server after everything else has finished.
//   - A server left running by a crashed run is reused (and left running); a stale postmaster.pid of a
//     dead server is ignored by PostgreSQL itself.
//   - The superuser password is generated on first start and kept next to the data directory with mode
//     0600; the server accepts only password-authenticated TCP connections from loopback.
package devdb
