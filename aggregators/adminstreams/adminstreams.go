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

	"github.com/jackc/pgx/v5"
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
		BatchSize:    steadyBatchSize,
	}}
}

// linger lets messages gather for a moment before each read (SubscriptionConfig.Linger), and
// steadyLinger for longer between the reads of a steady stream (SubscriptionConfig.SteadyLinger): the
// admin pages may be this late, and every message of the store passes through this aggregator, so
// under load the batches get several times larger, each costing the same statement and transaction
// and an upsert per stream it touches, however many of the stream's messages it holds. Side by side
// under 64 clients recording viewings, 30 ms between the reads of a steady stream here and in the
// creators' viewings carried 1.08x and 1.10x the viewings of 10 ms, and 60 ms with reads of up to
// steadyBatchSize messages 1.05x and 1.03x those of 30 ms (docs/BENCHMARKS.md). A full read is
// followed by the next at once, so the read size must hold what 60 ms of such a load brings (some
// 800 messages at 13,000 viewings a second).
const (
	linger          = 10 * time.Millisecond
	steadyLinger    = 60 * time.Millisecond
	steadyBatchSize = 1000
)

// indexSQL indexes a whole batch in one statement (set-based: one executor start for the batch).
const indexSQL = `INSERT INTO admin_message_index (global_position, stream_name, category, type, trace_id, user_id)
SELECT gp, s, c, t, nullif(tr, ''), nullif(u, '')
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS m(gp, s, c, t, tr, u)
ORDER BY gp
ON CONFLICT (global_position) DO NOTHING`

// lockStreamsSQL locks the batch's stream rows that exist already, in a fixed order, and returns their
// counts before the batch.
const lockStreamsSQL = `SELECT stream_name, message_count FROM admin_streams
WHERE stream_name = ANY($1::text[])
ORDER BY stream_name
FOR UPDATE`

// streamsSQL raises each stream's count to max(position)+1 and moves its last message forward, for
// every stream of the batch in one statement, and returns the counts after, so that each category can
// grow by exactly the difference.
const streamsSQL = `INSERT INTO admin_streams AS s (stream_name, category, message_count, last_position, last_message_id,
	last_message_global_position, last_message_type, last_message_time)
SELECT i.stream_name, i.category, i.last_position + 1, i.last_position, i.id::uuid, i.gp, i.type, i.time
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[])
	AS i(stream_name, category, last_position, id, gp, type, time)
ORDER BY i.stream_name
ON CONFLICT (stream_name) DO UPDATE SET
	message_count = greatest(s.message_count, excluded.message_count),
	last_position = greatest(s.last_position, excluded.last_position),
	last_message_id = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_id ELSE s.last_message_id END,
	last_message_global_position = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_global_position ELSE s.last_message_global_position END,
	last_message_type = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_type ELSE s.last_message_type END,
	last_message_time = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_time ELSE s.last_message_time END
RETURNING s.stream_name, s.message_count`

const categorySQL = `INSERT INTO admin_categories AS c (category, message_count, last_global_position)
VALUES ($1, $2, $3)
ON CONFLICT (category) DO UPDATE SET
	message_count = c.message_count + excluded.message_count,
	last_global_position = greatest(c.last_global_position, excluded.last_global_position)`

type catDelta struct{ count, last int64 }

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

// HandleMessages applies one batch in one transaction. Applying it twice changes nothing.
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
	sort.Strings(streams) // a fixed lock order

	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("admin streams: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op

	n := len(msgs)
	gps, streamNames, cats0, types := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
	traces, users := make([]string, n), make([]string, n)
	for i, m := range msgs {
		gps[i], streamNames[i], cats0[i], types[i] = m.GlobalPosition, m.StreamName, indexedCategory(m.StreamName), cut(m.Type, maxIndexedText)
		traces[i], users[i] = indexedID(m.Metadata.TraceID), indexedID(m.Metadata.UserID)
	}
	cats := map[string]*catDelta{} // by category: how much it grows, its newest message
	k := len(streams)
	scats, lastPos, ids := make([]string, k), make([]int64, k), make([]string, k)
	lastGP, lastType, lastTime := make([]int64, k), make([]string, k), make([]time.Time, k)
	for i, st := range streams {
		m := last[st]
		scats[i], lastPos[i], ids[i] = streamCategory(st), m.Position, m.ID
		lastGP[i], lastType[i], lastTime[i] = m.GlobalPosition, m.Type, m.Time
	}

	// The index rows, then the streams: their rows locked first (in the fixed order), then all of them
	// raised in one statement. One round trip for the three.
	b := &pgx.Batch{}
	b.Queue(indexSQL, gps, streamNames, cats0, types, traces, users)
	b.Queue(lockStreamsSQL, streams)
	b.Queue(streamsSQL, streams, scats, lastPos, ids, lastGP, lastType, lastTime)
	br := tx.SendBatch(ctx, b)
	before := make(map[string]int64, k)
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("admin streams: index: %w", err)
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("admin streams: lock streams: %w", err)
		}
		var name string
		var count int64
		if _, err := pgx.ForEachRow(rows, []any{&name, &count}, func() error {
			before[name] = count
			return nil
		}); err != nil {
			return fmt.Errorf("admin streams: lock streams: %w", err)
		}
		rows, err = br.Query()
		if err != nil {
			return fmt.Errorf("admin streams: streams: %w", err)
		}
		seen := 0
		if _, err := pgx.ForEachRow(rows, []any{&name, &count}, func() error {
			cat := indexedCategory(name)
			d := cats[cat]
			if d == nil {
				d = &catDelta{}
				cats[cat] = d
			}
			d.count += count - before[name]
			d.last = max(d.last, last[name].GlobalPosition)
			seen++
			return nil
		}); err != nil {
			return fmt.Errorf("admin streams: streams: %w", err)
		}
		if seen != k {
			return fmt.Errorf("admin streams: %d of %d streams upserted", seen, k)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("admin streams: %w", cerr)
	}
	if err != nil {
		return err
	}
	names := make([]string, 0, len(cats))
	for c := range cats {
		names = append(names, c)
	}
	sort.Strings(names)
	// One statement per category, all sent in one round trip, in a fixed lock order.
	cb := &pgx.Batch{}
	for _, c := range names {
		cb.Queue(categorySQL, c, cats[c].count, cats[c].last)
	}
	cr := tx.SendBatch(ctx, cb)
	for _, c := range names {
		if _, err := cr.Exec(); err != nil {
			cr.Close()
			return fmt.Errorf("admin streams: category %s: %w", c, err)
		}
	}
	if err := cr.Close(); err != nil {
		return fmt.Errorf("admin streams: categories: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("admin streams: commit: %w", err)
	}
	return nil
}
