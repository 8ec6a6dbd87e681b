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
	}}
}

// indexSQL indexes a whole batch in one statement (set-based: one executor start for the batch).
const indexSQL = `INSERT INTO admin_message_index (global_position, stream_name, category, type, trace_id, user_id)
SELECT gp, s, c, t, nullif(tr, ''), nullif(u, '')
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS m(gp, s, c, t, tr, u)
ORDER BY gp
ON CONFLICT (global_position) DO NOTHING`

// streamSQL raises a stream's count to max(position)+1 and moves its last message forward, and
// returns the count before and after, so the category can grow by exactly the difference.
const streamSQL = `WITH old AS (
	SELECT message_count FROM admin_streams WHERE stream_name = $1 FOR UPDATE
), up AS (
	INSERT INTO admin_streams AS s (stream_name, category, message_count, last_position, last_message_id,
		last_message_global_position, last_message_type, last_message_time)
	VALUES ($1, $2, $3 + 1, $3, $4::uuid, $5, $6, $7)
	ON CONFLICT (stream_name) DO UPDATE SET
		message_count = greatest(s.message_count, excluded.message_count),
		last_position = greatest(s.last_position, excluded.last_position),
		last_message_id = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_id ELSE s.last_message_id END,
		last_message_global_position = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_global_position ELSE s.last_message_global_position END,
		last_message_type = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_type ELSE s.last_message_type END,
		last_message_time = CASE WHEN excluded.last_position > s.last_position THEN excluded.last_message_time ELSE s.last_message_time END
	RETURNING s.message_count
)
SELECT coalesce((SELECT message_count FROM old), 0), (SELECT message_count FROM up)`

const categorySQL = `INSERT INTO admin_categories AS c (category, message_count, last_global_position)
VALUES ($1, $2, $3)
ON CONFLICT (category) DO UPDATE SET
	message_count = c.message_count + excluded.message_count,
	last_global_position = greatest(c.last_global_position, excluded.last_global_position)`

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
		gps[i], streamNames[i], cats0[i], types[i] = m.GlobalPosition, m.StreamName, messagestore.Category(m.StreamName), m.Type
		traces[i], users[i] = m.Metadata.TraceID, m.Metadata.UserID
	}
	if _, err := tx.Exec(ctx, indexSQL, gps, streamNames, cats0, types, traces, users); err != nil {
		return fmt.Errorf("admin streams: index: %w", err)
	}

	// One statement per stream, all sent in one round trip, in the fixed lock order.
	b := &pgx.Batch{}
	for _, s := range streams {
		m := last[s]
		b.Queue(streamSQL, s, messagestore.Category(s), m.Position, m.ID, m.GlobalPosition, m.Type, m.Time)
	}
	br := tx.SendBatch(ctx, b)
	type delta struct{ count, last int64 }
	cats := map[string]*delta{}
	for _, s := range streams {
		m := last[s]
		var before, after int64
		if err := br.QueryRow().Scan(&before, &after); err != nil {
			br.Close()
			return fmt.Errorf("admin streams: stream %s: %w", s, err)
		}
		cat := messagestore.Category(s)
		d := cats[cat]
		if d == nil {
			d = &delta{}
			cats[cat] = d
		}
		d.count += after - before
		d.last = max(d.last, m.GlobalPosition)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("admin streams: streams: %w", err)
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
