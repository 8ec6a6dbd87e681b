// Package adminsubscriberpositions is the admin-subscriber-positions aggregator: the last Read
// message of every subscriber (category subscriberPosition) in admin_subscriber_positions, and whether
// it is parked or keeps retrying a message (the Parked, Retrying and Resumed messages of category
// subscriberStatus) in admin_subscriber_status, so that the admin pages of every process show a
// parked or retrying subscription, whichever process runs it. A message at or below its row's watermark (last_read_global_position,
// status_global_position) was applied already and changes nothing.
package adminsubscriberpositions

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/messagestore"
)

// SubscriberID is the aggregator's subscriber id (persisted state).
const SubscriberID = "aggregators:admin-subscriber-positions"

// StatusSubscriberID is its subscription to the subscriptions' status streams.
const StatusSubscriberID = "aggregators:admin-subscriber-positions:status"

// Category is where subscriptions record their positions.
const Category = "subscriberPosition"

var (
	read     = messagestore.TypeName(messagestore.Read{})
	parked   = messagestore.TypeName(messagestore.Parked{})
	retrying = messagestore.TypeName(messagestore.Retrying{})
	resumed  = messagestore.TypeName(messagestore.Resumed{})
)

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "admin-subscriber-positions",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: Category, Types: []string{read}},
		{SubscriberID: StatusSubscriberID, Category: messagestore.StatusCategory, Types: []string{parked, retrying, resumed}},
	},
}

// Notifier publishes live-page events. Unused.
type Notifier interface {
	Publish(topic, event, data string)
}

// Deps are what the aggregator needs.
type Deps struct {
	DB     *pgxpool.Pool
	Logger *slog.Logger
	Live   Notifier // unused; may be nil
}

// Aggregator maintains admin_subscriber_positions.
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

// catchUpBatchSize is this aggregator's read size while its subscription is behind, instead of the
// store's 2,000. Every subscription that is catching up holds a whole read in memory at the same time
// (about 0.7 KB a message as the store hands it over, plus the copy of it the subscription passes to
// the handler), so the sum over all of them is the program's peak during a catch-up. Here a batch is
// one statement whatever its size, and the Read messages of a thousand positions already coalesce into
// one row per subscriber.
const catchUpBatchSize = 1000

// Subscriptions returns the aggregator's subscription.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID: SubscriberID, Category: Category, HandleBatch: a.HandleReads, BatchTypes: []string{read},
		CatchUpBatchSize: catchUpBatchSize,
	}, {
		SubscriberID: StatusSubscriberID, Category: messagestore.StatusCategory, HandleBatch: a.HandleStatus,
		BatchTypes: []string{parked, retrying, resumed},
	}}
}

// upsertSQL applies a whole batch in one statement: one row per subscriber, the Read with the greatest
// global position of the batch, written only past the row's watermark.
const upsertSQL = `INSERT INTO admin_subscriber_positions AS p
	(subscriber_id, position, transaction_id, updated_at, last_read_global_position)
SELECT b.id, b.pos, nullif(b.txid, ''), b.at, b.gp
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::bigint[]) AS b(id, pos, txid, at, gp)
ORDER BY b.id
ON CONFLICT (subscriber_id) DO UPDATE SET position = excluded.position, transaction_id = excluded.transaction_id,
	updated_at = excluded.updated_at, last_read_global_position = excluded.last_read_global_position
WHERE p.last_read_global_position < excluded.last_read_global_position`

// latest is the Read of a subscriber that a batch leaves in its row.
type latest struct {
	pos  int64
	txid string
	at   time.Time
	gp   int64
}

// HandleReads applies one batch of Read messages in one transaction and one statement. Applied one
// by one, a Read changes the row only past its watermark, so what a batch leaves is the Read with
// the greatest global position (if it is past the row's watermark): that is the one sent per
// subscriber, and the statement compares it with the watermark, so a replayed or overlapping batch
// changes nothing.
func (a *Aggregator) HandleReads(ctx context.Context, msgs []messagestore.Message) error {
	last := map[string]latest{}
	var order []string
	for _, m := range msgs {
		id, ok := messagestore.ID(m.StreamName)
		if !ok || m.Type != read {
			continue
		}
		var r messagestore.Read
		if err := m.Decode(&r); err != nil {
			a.log.Error("skipping a Read that cannot be decoded", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		prev, seen := last[id]
		if seen && prev.gp >= m.GlobalPosition {
			continue // an earlier Read of the batch is at or past it: applied one by one, it changes nothing
		}
		if !seen {
			order = append(order, id)
		}
		txid := ""
		if r.TransactionID != 0 {
			txid = strconv.FormatUint(r.TransactionID, 10)
		}
		last[id] = latest{pos: r.Position, txid: txid, at: m.Time, gp: m.GlobalPosition}
	}
	if len(order) == 0 {
		return nil
	}
	ids := make([]string, len(order))
	pos := make([]int64, len(order))
	txids := make([]string, len(order))
	ats := make([]time.Time, len(order))
	gps := make([]int64, len(order))
	for i, id := range order {
		l := last[id]
		ids[i], pos[i], txids[i], ats[i], gps[i] = id, l.pos, l.txid, l.at, l.gp
	}
	if _, err := a.db.Exec(ctx, upsertSQL, ids, pos, txids, ats, gps); err != nil {
		return fmt.Errorf("admin subscriber positions: %w", err)
	}
	return nil
}

// statusSQL applies a batch of status messages in one statement: per subscriber the last of the
// batch, written only past the row's watermark.
const statusSQL = `INSERT INTO admin_subscriber_status AS s (subscriber_id, parked, retrying, error, failing_global_position,
	failing_stream_name, failing_type, attempts, changed_at, status_global_position)
SELECT b.id, b.parked, b.retrying, b.error, b.fgp, b.fstream, b.ftype, b.attempts, b.at, b.gp
FROM unnest($1::text[], $2::boolean[], $3::boolean[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::integer[],
	$9::timestamptz[], $10::bigint[]) AS b(id, parked, retrying, error, fgp, fstream, ftype, attempts, at, gp)
ORDER BY b.id
ON CONFLICT (subscriber_id) DO UPDATE SET parked = excluded.parked, retrying = excluded.retrying, error = excluded.error,
	failing_global_position = excluded.failing_global_position, failing_stream_name = excluded.failing_stream_name,
	failing_type = excluded.failing_type, attempts = excluded.attempts, changed_at = excluded.changed_at,
	status_global_position = excluded.status_global_position
WHERE s.status_global_position < excluded.status_global_position`

// HandleStatus applies a batch of Parked, Retrying and Resumed messages in one statement. As with
// Reads, what a batch leaves per subscriber is its last message there (if past the row's watermark).
// A Parked or Retrying that cannot be decoded still says so; its details are left empty.
func (a *Aggregator) HandleStatus(ctx context.Context, msgs []messagestore.Message) error {
	last := map[string]messagestore.Message{}
	var order []string
	for _, m := range msgs {
		id, ok := messagestore.ID(m.StreamName)
		if !ok || (m.Type != parked && m.Type != retrying && m.Type != resumed) {
			continue
		}
		prev, seen := last[id]
		if seen && prev.GlobalPosition >= m.GlobalPosition {
			continue
		}
		if !seen {
			order = append(order, id)
		}
		last[id] = m
	}
	if len(order) == 0 {
		return nil
	}
	n := len(order)
	ids, isParked, isRetrying, errs := make([]string, n), make([]bool, n), make([]bool, n), make([]*string, n)
	fgps, fstreams, ftypes, attempts := make([]*int64, n), make([]*string, n), make([]*string, n), make([]*int32, n)
	ats, gps := make([]time.Time, n), make([]int64, n)
	for i, id := range order {
		m := last[id]
		ids[i], ats[i], gps[i] = id, m.Time, m.GlobalPosition
		// Retrying carries Parked's fields and more; the details shown are the same.
		var p messagestore.Parked
		switch m.Type {
		case parked:
			isParked[i] = true
		case retrying:
			isRetrying[i] = true
		default:
			continue
		}
		if err := m.Decode(&p); err != nil {
			a.log.Warn("a status message cannot be decoded; showing it without its details", "type", m.Type,
				"stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		errs[i], fstreams[i], ftypes[i] = &p.Error, &p.StreamName, &p.Type
		fgps[i] = &p.GlobalPosition
		att := int32(min(max(p.Attempts, 0), 1<<31-1))
		attempts[i] = &att
	}
	if _, err := a.db.Exec(ctx, statusSQL, ids, isParked, isRetrying, errs, fgps, fstreams, ftypes, attempts, ats, gps); err != nil {
		return fmt.Errorf("admin subscriber status: %w", err)
	}
	return nil
}
