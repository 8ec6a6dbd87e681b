// Package adminstreams is the admin-streams aggregator: a store-wide subscription that counts the
// messages of every stream and category and keeps a small index row per message (type, trace, acting
// user) so that the admin portal can filter messages without scanning the message table.
//
// Exactly once, with any order and any replay: the store-wide reader delivers messages in (transaction
// id, global position) order, so two messages of one stream may arrive out of position order when
// their transactions began in the other order. Positions within a stream are gapless, so a stream's
// count is max(position)+1 — a greatest() that any order and any replay leave alone — and a
// category's count grows by exactly the difference the stream's count made, in the same transaction.
package adminstreams

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/messagestore"
)

// SubscriberID is the admin-streams aggregator's subscriber id (persisted state).
const SubscriberID = "aggregators:admin-streams"

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "admin-streams",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: messagestore.AllCategories},
	},
}

// Notifier publishes live-page events. Unused; present so every aggregator is wired the same way.
type Notifier interface {
	Publish(topic, event, data string)
}

// Deps are what the aggregator needs.
type Deps struct {
	DB     *pgxpool.Pool // view data
	Logger *slog.Logger
	Live   Notifier // unused; may be nil
}

// Aggregator maintains admin_streams, admin_categories and admin_message_index.
type Aggregator struct {
	db  *pgxpool.Pool
	log *slog.Logger
}

// New returns the aggregator.
func New(d Deps) *Aggregator {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Aggregator{db: d.DB, log: log.With("aggregator", Contract.Name)}
}

// Subscriptions returns the aggregator's store-wide subscription.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID: SubscriberID,
		Category:     messagestore.AllCategories,
		HandleBatch:  a.HandleMessages,
		Linger:       linger,
		SteadyLinger: steadyLinger,
	}}
}

// linger lets messages gather for a moment before each read (SubscriptionConfig.Linger), and
// steadyLinger for longer between the reads of a steady stream (SubscriptionConfig.SteadyLinger): the
// admin pages may be this late, and every message of the store passes through this aggregator, so
// under load the batches get several times larger, each costing the same statement and transaction
// and an upsert per stream it touches, however many of the stream's messages it holds. Side by side
// under 64 clients recording viewings, 30 ms between the reads of a steady stream here and in the
// creators' viewings carried 1.08x and 1.10x the viewings of 10 ms (docs/BENCHMARKS.md). Reads of at
// most BatchSize messages bound it: a full read is followed by the next at once.
const (
	linger       = 10 * time.Millisecond
	steadyLinger = 30 * time.Millisecond
)

// batchSQL applies a whole batch in one statement, and so in one round trip and one transaction
// without a BEGIN or COMMIT of its own:
//   - indexed: the batch's index rows ($1–$6, one per message), set-based; a replay inserts nothing;
//   - streams: each stream's row ($7–$13, one per stream of the batch, sorted: a fixed lock order)
//     raised to max(position)+1 with its newest message moved forward. The upsert locks the row and
//     keeps the count it found in message_count_before, so it returns by how much the stream grew,
//     against the row as it was when locked: a concurrent or replayed batch (two runners for a moment
//     during a lease takeover, a crash before the position was saved) grows nothing twice;
//   - the categories ($14: each stream's category as admin_categories keys it) grow by the sum of
//     their streams' growth, in category order.
//
// The data-modifying CTEs run to completion whether or not the final SELECT reads them; it returns
// how many streams the upsert touched, which must be all of them.
const batchSQL = `WITH indexed AS (
	INSERT INTO admin_message_index (global_position, stream_name, category, type, trace_id, user_id)
	SELECT gp, s, c, t, nullif(tr, ''), nullif(u, '')
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS m(gp, s, c, t, tr, u)
	ORDER BY gp
	ON CONFLICT (global_position) DO NOTHING
),
batch AS (
	SELECT * FROM unnest($7::text[], $8::text[], $9::bigint[], $10::text[], $11::bigint[], $12::text[],
		$13::timestamptz[], $14::text[])
		AS i(stream_name, category, last_position, id, gp, type, time, counted_category)
),
streams AS (
	INSERT INTO admin_streams AS s (stream_name, category, message_count, message_count_before, last_position,
		last_message_id, last_message_global_position, last_message_type, last_message_time)
	SELECT b.stream_name, b.category, b.last_position + 1, 0, b.last_position, b.id::uuid, b.gp, b.type, b.time
	FROM batch AS b
	ORDER BY b.stream_name
	ON CONFLICT (stream_name) DO UPDATE SET
		message_count_before = s.message_count,
		message_count = greatest(s.message_count, excluded.message_count),
		last_position = greatest(s.last_position, excluded.last_position),
		last_message_id = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_id ELSE s.last_message_id END,
		last_message_global_position = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_global_position ELSE s.last_message_global_position END,
		last_message_type = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_type ELSE s.last_message_type END,
		last_message_time = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_time ELSE s.last_message_time END
	RETURNING s.stream_name, s.message_count - s.message_count_before AS grown
),
categories AS (
	INSERT INTO admin_categories AS c (category, message_count, last_global_position)
	SELECT b.counted_category, sum(st.grown)::bigint, max(b.gp)
	FROM streams AS st JOIN batch AS b ON b.stream_name = st.stream_name
	GROUP BY b.counted_category
	ORDER BY b.counted_category
	ON CONFLICT (category) DO UPDATE SET
		message_count = c.message_count + excluded.message_count,
		last_global_position = greatest(c.last_global_position, excluded.last_global_position)
)
SELECT count(*) FROM streams`

// PostgreSQL refuses a B-tree index entry of more than 2704 bytes (once compressed), and the tables
// here index text that any Message DB client may have written: message types, trace and user ids from
// metadata, categories. The message store itself indexes none of the first three and takes stream
// names (and so categories) up to about 2.7 KB. A message with such text must still be counted — one
// the aggregator cannot apply would park it, and every message after it would go unindexed — so the
// text is bounded here: types and categories are cut to maxIndexedText bytes, trace and user ids
// longer than that (never an id this program wrote or could look up) are left out, and the category of
// admin_streams, indexed together with the stream name, is cut further to fit maxStreamKey.
const (
	maxIndexedText = 1000
	maxStreamKey   = 2600
)

// cut returns s cut to at most n bytes, at a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// indexedID is a trace or user id as the index keeps it: "" (NULL) when it is too long to index.
func indexedID(s string) string {
	if len(s) > maxIndexedText {
		return ""
	}
	return s
}

// indexedCategory is the category of a stream as admin_categories and admin_message_index keep it.
func indexedCategory(stream string) string {
	return cut(messagestore.Category(stream), maxIndexedText)
}

// streamCategory is the category of a stream as admin_streams keeps it, beside the stream's name: the
// same as indexedCategory except for streams whose name and category together are too long to index.
func streamCategory(stream string) string {
	return cut(indexedCategory(stream), max(0, maxStreamKey-len(stream)))
}

// HandleMessages applies one batch in one statement (batchSQL), and so in one transaction. Applying it
// twice, or at the same time as an overlapping batch, changes nothing.
func (a *Aggregator) HandleMessages(ctx context.Context, msgs []messagestore.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	// The newest (highest position) message of each stream in the batch.
	last := map[string]messagestore.Message{}
	for _, m := range msgs {
		if cur, ok := last[m.StreamName]; !ok || m.Position > cur.Position {
			last[m.StreamName] = m
		}
	}
	streams := make([]string, 0, len(last))
	for s := range last {
		streams = append(streams, s)
	}
	sort.Strings(streams) // the order batchSQL locks them in

	n := len(msgs)
	gps, streamNames, cats0, types := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	traces, users := make([]string, n), make([]string, n)
	for i, m := range msgs {
		gps[i], streamNames[i], cats0[i], types[i] = m.GlobalPosition, m.StreamName, indexedCategory(m.StreamName), cut(m.Type, maxIndexedText)
		traces[i], users[i] = indexedID(m.Metadata.TraceID), indexedID(m.Metadata.UserID)
	}
	k := len(streams)
	scats, lastPos, ids := make([]string, k), make([]int64, k), make([]string, k)
	lastGP, lastType, lastTime := make([]int64, k), make([]string, k), make([]time.Time, k)
	counted := make([]string, k)
	for i, st := range streams {
		m := last[st]
		scats[i], lastPos[i], ids[i] = streamCategory(st), m.Position, m.ID
		lastGP[i], lastType[i], lastTime[i] = m.GlobalPosition, m.Type, m.Time
		counted[i] = indexedCategory(st)
	}
	var seen int
	if err := a.db.QueryRow(ctx, batchSQL, gps, streamNames, cats0, types, traces, users,
		streams, scats, lastPos, ids, lastGP, lastType, lastTime, counted).Scan(&seen); err != nil {
		return fmt.Errorf("admin streams: %w", err)
	}
	if seen != k {
		return fmt.Errorf("admin streams: %d of %d streams upserted", seen, k)
	}
	return nil
}
