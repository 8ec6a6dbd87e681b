package migrations_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDebugNoticesAsMessageDB: with message_store.debug on, every Message DB function prints the NOTICEs
// Message DB 1.3.0 prints, in its order and with its labels (taken from running the same statements
// against Message DB's own install), except the 'Generated Command: ...' line of its reads, which
// shows its dynamic SQL (see migration 00008).
func TestDebugNoticesAsMessageDB(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg, err := pgx.ParseConfig(testURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["message_store.debug"] = "on"
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())

	cat := newCategory("notices")
	stream := cat + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")
	var key int64
	if err := pool.QueryRow(ctx, `SELECT message_store.hash_64($1)`, cat).Scan(&key); err != nil {
		t.Fatal(err)
	}
	lock := []string{
		"» acquire_lock",
		"stream_name: " + stream,
		"_category: " + cat,
		fmt.Sprintf("_category_name_hash: %d", key),
	}
	check := func(what string, want ...[]string) {
		t.Helper()
		if w := slices.Concat(want...); !slices.Equal(notices, w) {
			t.Errorf("%s: notices\n  %q\nwant\n  %q", what, notices, w)
		}
		notices = nil
	}

	// acquire_lock on its own.
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT message_store.acquire_lock($1)`, stream)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check("acquire_lock", lock)

	// write_message: the lock's block first, then its own.
	id := uuid.NewString()
	if _, err := c.Exec(ctx, `SELECT message_store.write_message($1, $2, 'T', '{"a":1}', NULL, -1)`, id, stream); err != nil {
		t.Fatal(err)
	}
	check("write_message", lock, []string{
		"» write_message",
		"id ($1): " + id,
		"stream_name ($2): " + stream,
		"type ($3): T",
		`data ($4): {"a": 1}`,
		"metadata ($5): <NULL>",
		"expected_version ($6): -1",
		"_stream_version: -1",
		"_next_position: 0",
	})

	// A wrong expected version: the lock's block, then the error.
	_, err = c.Exec(ctx, `SELECT message_store.write_message($1, $2, 'T', '{}', NULL, 5)`, uuid.NewString(), stream)
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: 5 (Stream: %s, Stream Version: 0)", stream))
	check("write_message with a wrong expected version", lock)

	mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, stream))
	check("get_stream_messages", []string{
		"» get_stream_messages",
		"stream_name ($1): " + stream,
		"position ($2): 0",
		"batch_size ($3): 1000",
		"condition ($4): <NULL>",
	})

	// The condition switch is off in this session: the error comes before any NOTICE.
	_, err = collect(c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, 0, 10, 'true')`, stream))
	wantPgError(t, err, "P0001", "Retrieval with SQL condition is not activated")
	check("get_stream_messages with a refused condition")
	_, err = collect(c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, condition => 'true')`, cat))
	wantPgError(t, err, "P0001", "Retrieval with SQL condition is not activated")
	check("get_category_messages with a refused condition")

	mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, NULL, 10, 'someCorr', 1, 2)`, cat))
	check("get_category_messages", []string{
		"» get_category_messages",
		"category ($1): " + cat,
		"position ($2): 1",
		"batch_size ($3): 10",
		"correlation ($4): someCorr",
		"consumer_group_member ($5): 1",
		"consumer_group_size ($6): 2",
		"condition: <NULL>",
	})

	// A size beyond smallint: the NOTICEs (with the size as given), then 22003.
	_, err = collect(c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, consumer_group_member => 0, consumer_group_size => 40000)`, cat))
	wantPgError(t, err, "22003", "smallint out of range")
	check("get_category_messages with consumer_group_size 40000", []string{
		"» get_category_messages",
		"category ($1): " + cat,
		"position ($2): 1",
		"batch_size ($3): 1000",
		"correlation ($4): <NULL>",
		"consumer_group_member ($5): 0",
		"consumer_group_size ($6): 40000",
		"condition: <NULL>",
	})

	mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_last_stream_message($1, 'T')`, stream))
	check("get_last_stream_message", []string{
		"» get_last_message",
		"stream_name ($1): " + stream,
		"type ($2): T",
	})
}
