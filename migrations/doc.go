// Package migrations holds the database schema as goose SQL migrations, embedded into the binary and
// applied at start-up under a Postgres advisory lock (so several processes starting at once apply them
// exactly once).
//
// There are two independent sets, each with its own version table, because the message store may live
// in another database than the view data (MESSAGE_STORE_URL):
//   - messagestore/: the message_store schema, compatible with Message DB 1.3.0 (see the README's
//     "Message store compatibility" and the comments in the SQL files);
//   - viewdata/: the tables the aggregators write and the applications read.
//
// Rules: a migration that has been committed is never edited; change the schema with a new file.
package migrations
