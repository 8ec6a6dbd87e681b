// Package adminsubscriberpositions is the admin-subscriber-positions aggregator: the last Read
// message of every subscriber (category subscriberPosition) in admin_subscriber_positions. A Read
// at or below the row's last_read_global_position was applied already and changes nothing.
package adminsubscriberpositions

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/messagestore"
)

// SubscriberID is the aggregator's subscriber id (persisted state).
const SubscriberID = "aggregators:admin-subscriber-positions"

// Category is where subscriptions record their positions.
const Category = "subscriberPosition"

var read = messagestore.TypeName(messagestore.Read{})

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "admin-subscriber-positions",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: Category, Types: []string{read}},
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

// Subscriptions returns the aggregator's subscription.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID: SubscriberID, Category: Category, HandleBatch: a.HandleReads, BatchTypes: []string{read},
	}}
}

const upsertSQL = `INSERT INTO admin_subscriber_positions AS p
	(subscriber_id, position, transaction_id, updated_at, last_read_global_position)
VALUES ($1, $2, nullif($3, ''), $4, $5)
ON CONFLICT (subscriber_id) DO UPDATE SET position = excluded.position, transaction_id = excluded.transaction_id,
	updated_at = excluded.updated_at, last_read_global_position = excluded.last_read_global_position
WHERE p.last_read_global_position < excluded.last_read_global_position`

// HandleReads applies one batch of Read messages in one transaction.
func (a *Aggregator) HandleReads(ctx context.Context, msgs []messagestore.Message) error {
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("admin subscriber positions: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
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
		txid := ""
		if r.TransactionID != 0 {
			txid = strconv.FormatUint(r.TransactionID, 10)
		}
		if _, err := tx.Exec(ctx, upsertSQL, id, r.Position, txid, m.Time, m.GlobalPosition); err != nil {
			return fmt.Errorf("admin subscriber positions: %s: %w", id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("admin subscriber positions: commit: %w", err)
	}
	return nil
}
