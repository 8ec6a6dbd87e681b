package videooperations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// SubscriberID is the aggregator's subscriber id (persisted state: its position stream).
const SubscriberID = "aggregators:video-operations"

var (
	videoNamed               = messagestore.TypeName(videopublishingmsg.VideoNamed{})
	videoNameRejected        = messagestore.TypeName(videopublishingmsg.VideoNameRejected{})
	videoDescribed           = messagestore.TypeName(videopublishingmsg.VideoDescribed{})
	videoDescriptionRejected = messagestore.TypeName(videopublishingmsg.VideoDescriptionRejected{})
	types                    = []string{videoNamed, videoNameRejected, videoDescribed, videoDescriptionRejected}
)

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "video-operations",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: videopublishingmsg.Category, Types: types},
	},
}

// EventReload is the live event that tells an operation's page to load itself again (as
// templates/static/live.js understands it).
const EventReload = "reload"

// Topic is the live topic of one operation (app/live.VideoOperationTopic spells the same).
func Topic(traceID string) string { return "video-operation:" + traceID }

// Notifier publishes live-page events. It must not block.
type Notifier interface {
	Publish(topic, event, data string)
}

// Deps are what the aggregator needs.
type Deps struct {
	DB     *pgxpool.Pool // view data
	Logger *slog.Logger
	Live   Notifier // may be nil: no live updates
}

// Aggregator maintains video_operations.
type Aggregator struct {
	db   *pgxpool.Pool
	log  *slog.Logger
	live Notifier
}

// New returns the aggregator.
func New(d Deps) *Aggregator {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Aggregator{db: d.DB, log: log.With("aggregator", Contract.Name), live: d.Live}
}

// catchUpBatchSize is this aggregator's read size while its subscription is behind, instead of the
// store's 2,000. Every subscription that is catching up holds a whole read in memory at the same time
// (about 0.7 KB a message as the store hands it over, plus the copy of it the subscription passes to
// the handler), so the sum over all of them is the program's peak during a catch-up. Here each event is
// one statement of its own, so a larger read would save only a transaction per thousand messages.
const catchUpBatchSize = 1000

// Subscriptions returns the aggregator's subscription; main runs it under a lease.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID:     SubscriberID,
		Category:         videopublishingmsg.Category,
		HandleBatch:      a.HandleMessages,
		BatchTypes:       types,
		CatchUpBatchSize: catchUpBatchSize,
	}}
}

const upsertSQL = `INSERT INTO video_operations AS o (trace_id, video_id, kind, succeeded, failure_reason, position)
VALUES ($1, $2::uuid, $3, $4, $5, $6)
ON CONFLICT (trace_id) DO UPDATE SET video_id = excluded.video_id, kind = excluded.kind,
	succeeded = excluded.succeeded, failure_reason = excluded.failure_reason, position = excluded.position
WHERE o.position < excluded.position
RETURNING trace_id`

// HandleMessages records the outcomes of one batch in one transaction, then tells the pages.
func (a *Aggregator) HandleMessages(ctx context.Context, msgs []messagestore.Message) error {
	var ops []viewdata.VideoOperation
	batch := &pgx.Batch{}
	for _, m := range msgs {
		op, ok := a.outcome(m)
		if !ok {
			continue
		}
		var reason any
		if !op.Succeeded {
			reason = op.FailureReason
		}
		batch.Queue(upsertSQL, op.TraceID, op.VideoID, op.Kind, op.Succeeded, reason, m.GlobalPosition)
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil
	}
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("video operations: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	br := tx.SendBatch(ctx, batch)
	var recorded []viewdata.VideoOperation
	for _, op := range ops {
		var trace string
		err := br.QueryRow().Scan(&trace)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // recorded before
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("video operations: %s: %w", op.TraceID, err)
		}
		recorded = append(recorded, op)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("video operations: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("video operations: commit: %w", err)
	}
	if a.live != nil {
		// Only "it is decided": the page, loaded again, checks that the operation is the viewer's
		// before it tells the outcome. The live stream of a pending operation cannot check that (the
		// view has no row yet), so whoever holds the trace id learns nothing from it.
		for _, op := range recorded {
			a.live.Publish(Topic(op.TraceID), EventReload, "")
		}
	}
	return nil
}

// maxTraceIDBytes bounds the trace ids recorded. video_operations is keyed by the trace id, and
// PostgreSQL refuses a B-tree entry over 2704 bytes: an outcome whose command (written by another
// Message DB client) carried a longer one could never be recorded, and retrying it would park the
// aggregator. The operation page only ever asks for a UUID.
const maxTraceIDBytes = 1000

// outcome reads one event; false for one that cannot be recorded (logged: retrying would only stop
// the aggregator).
func (a *Aggregator) outcome(m messagestore.Message) (viewdata.VideoOperation, bool) {
	var e struct {
		VideoID string `json:"videoId"`
		Reason  string `json:"reason"`
	}
	op := viewdata.VideoOperation{TraceID: m.Metadata.TraceID}
	switch m.Type {
	case videoNamed, videoDescribed:
		op.Succeeded = true
	case videoNameRejected, videoDescriptionRejected:
	default:
		return op, false
	}
	op.Kind = viewdata.VideoOperationName
	if m.Type == videoDescribed || m.Type == videoDescriptionRejected {
		op.Kind = viewdata.VideoOperationDescribe
	}
	if op.TraceID == "" {
		a.log.Warn("skipping an outcome without a trace id", "stream", m.StreamName, "type", m.Type, "globalPosition", m.GlobalPosition)
		return op, false
	}
	if len(op.TraceID) > maxTraceIDBytes {
		a.log.Warn("skipping an outcome whose trace id is too long to record", "stream", m.StreamName, "type", m.Type,
			"globalPosition", m.GlobalPosition, "traceIdBytes", len(op.TraceID))
		return op, false
	}
	videoID, _ := messagestore.CardinalID(m.StreamName)
	videoID, isUUID := messagestore.CanonicalUUID(videoID) // a form PostgreSQL's uuid type takes
	if err := m.Decode(&e); err != nil || !isUUID {
		a.log.Error("skipping an outcome without a video", "stream", m.StreamName, "type", m.Type,
			"globalPosition", m.GlobalPosition, "err", err)
		return op, false
	}
	op.VideoID, op.FailureReason = videoID, e.Reason
	return op, true
}
