// Package testdb is test support for every package whose tests run against the real PostgreSQL: the
// throw-away database of a test binary (Main), pools and message stores on it, and the helpers the
// component, aggregator and application tests share to write, read and subscribe to messages.
//
// Rules: only _test.go files import it (the boundary test refuses it in any package's build, so it
// never reaches the binary). It may import devdb, migrations and the message store — the one place
// besides main where those meet — and pgx, but no component, aggregator or application.
//
// Tests isolate themselves with fresh UUID stream names and subscriber ids, never by wiping tables,
// so a database given by TEST_DATABASE_URL may be shared by every test binary at once.
package testdb
