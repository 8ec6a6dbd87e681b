// Package messagedb measures our message_store schema side by side with the real Message DB on the
// same PostgreSQL server, with the same fixture, the same client code and the same measures, so that
// the figures can be reported as ratios (ours / Message DB) instead of against numbers measured on
// another machine. It has only tests:
//
//	bench/messagedb/run.sh            # fetches Message DB with npm, then runs the benchmark 3 times
//
// which comes down to
//
//	MESSAGEDB_SQL_DIR=<the package's database/ directory> \
//	    go test ./bench/messagedb -count 1 -run 'TestSameRows|TestInstallOrder' -bench . -benchtime 40x -timeout 30m
//
// Without MESSAGEDB_SQL_DIR every test and benchmark skips at once: `go test ./...` needs neither npm
// nor a database for this package.
//
// Rules:
//   - None of Message DB's code is in this repository. run.sh runs `npm pack @eventide/message-db` into a
//     temporary directory; the test reads the order of the SQL files from the package's own install.sh
//     (and the install-*.sh it sources) and runs each file with psql (ON_ERROR_STOP) against a scratch
//     database. Message DB's installer would also create the database; here the test creates it.
//   - Both schemas are named message_store, so each gets a database of its own on the same server:
//     ours is built by our goose migrations (migrations.MessageStore), Message DB's by its files. The
//     server is devdb's throw-away PostgreSQL 15 (fsync off), or TEST_DATABASE_URL's server, where the
//     two databases are created and dropped again.
//   - Message DB's functions call each other unqualified, so its clients put message_store on the
//     search_path. Every connection here, to either database, sets search_path=message_store,public at
//     start-up; every query names the functions qualified (message_store.get_category_messages).
//   - The fixture is the one of migrations/messagestore_bench_test.go (same stream names in both
//     databases): a category of 40,000 messages over 1,000 streams interleaved in the heap with as many
//     messages of another category, one stream of 10,000 messages, data of about 120 bytes and metadata
//     of about 100 bytes of JSON.
//   - Contenders alternate in rounds on the same server (b.N counts rounds; each contender runs its ops
//     of the round, then the next one's turn comes). Each reports msgs/s, and each benchmark reports the
//     ratio ours / Message DB. Only the ratios carry over to another machine.
//
// Measures: category and stream reads in batches of 1,000, end to end (every row shipped and scanned the
// way a client does) and server only (SELECT count(r.*) FROM ... AS r: every column computed, one row
// shipped), each in the FROM form (SELECT * FROM message_store.get_category_messages(...)) and the
// select-list form (SELECT message_store.get_category_messages(...), one composite column per row,
// scanned as raw text); consumer-group reads (member 0 of 4) next to plain category reads of the same
// schema; single writes with one writer next to a plain INSERT into a copy of the same schema's table
// (CREATE TABLE ... (LIKE message_store.messages INCLUDING ALL)).
package messagedb
