// Package clients runs real Message DB clients' own test suites against a database whose
// message_store schema was made by our goose migrations (migrations.MessageStore), never by Message
// DB's installer. None of the clients' code is in this repository: run.sh fetches it at run time.
//
//	bench/clients/run.sh                   # needs root (a network namespace), npm, Go, PostgreSQL binaries
//	SCHEMA=messagedb bench/clients/run.sh  # control run: the same tests against Message DB's own schema
//
// What run.sh does:
//   - npm pack message-db-connector (MDC_VERSION, default 0.0.10), whose package ships its TypeScript
//     sources and its jest suites, and npm install its dependencies; npm pack @eventide/message-db
//     (MESSAGEDB_VERSION, default 1.3.1) for Message DB's own tool scripts (database/*.sh). Both into a
//     temporary directory.
//   - Builds this package's test binary, whose only test, TestMigrate, applies our migrations to the
//     database named by CLIENTS_MIGRATE_URL (unset: it skips, so `go test ./...` needs no database).
//   - Enters a new network namespace (unshare --net) with its own loopback, so that the client's
//     hard-coded postgresql://message_store@localhost:5432/message_store reaches a private throw-away
//     PostgreSQL on port 5432 without touching the machine's port 5432.
//   - In it: initdb (trust authentication, as Message DB's installer expects for the passwordless role
//     message_store), CREATE DATABASE message_store, TestMigrate, then each client's own tests, with
//     only the environment adapted (PG* variables, DATABASE_NAME, two pinned dependency versions), never
//     their files. With SCHEMA=messagedb, Message DB's own install.sh makes the schema instead (in that
//     run's own throw-away cluster), so that a failure can be told apart from a test that fails anyway.
//
// Results and their reading: docs/RELIABILITY.md, "Real Message DB clients' own tests".
package clients
