package homepage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// SubscriberID is the home-page aggregator's subscriber id (persisted state: its position stream).
const SubscriberID = "aggregators:home-page"

// Live-page event the aggregator publishes after the count changed: data is the new count.
const (
	LiveTopic = "home"
	LiveEvent = "videosWatched"
)

var videoViewed = messagestore.TypeName(viewingmsg.VideoViewed{})

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "home-page",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: viewingmsg.Category, Types: []string{videoViewed}},
	},
}

// Notifier publishes live-page events (server-sent events). It must not block.
type Notifier interface {
	Publish(topic, event, data string)
}

// NotifierFunc adapts a function to Notifier, e.g. to forward to a hub that is created later.
type NotifierFunc func(topic, event, data string)

// Publish calls f.
func (f NotifierFunc) Publish(topic, event, data string) { f(topic, event, data) }

// Deps are what the aggregator needs.
type Deps struct {
	DB     *pgxpool.Pool // view data
	Logger *slog.Logger
	Live   Notifier // may be nil: no live updates
}

// Aggregator maintains the home page view.
type Aggregator struct {
	db   *pgxpool.Pool
	log  *slog.Logger
	live Notifier
	// page is the pages row written: viewdata.HomePageName, except in tests, which use a row of their
	// own so that they can share a database with everything else.
	page string
}

// New returns the aggregator.
func New(d Deps) *Aggregator {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Aggregator{db: d.DB, log: log.With("aggregator", Contract.Name), live: d.Live, page: viewdata.HomePageName}
}

// Subscriptions returns the aggregator's subscription; main runs it under a lease.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID: SubscriberID,
		Category:     viewingmsg.Category,
		HandleBatch:  a.HandleViewings,
		BatchTypes:   []string{videoViewed},
	}}
}

// HandleViewings counts the VideoViewed events of one batch that are past the watermark, in one
// transaction with the watermark. Applying a batch twice, or batches that overlap, counts every
// viewing once.
func (a *Aggregator) HandleViewings(ctx context.Context, msgs []messagestore.Message) error {
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("home page: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op

	count, watermark, err := a.lockPage(ctx, tx)
	if err != nil {
		return err
	}
	added, last := int64(0), watermark
	for _, m := range msgs {
		if m.Type != videoViewed || m.GlobalPosition <= watermark {
			continue
		}
		added++
		last = max(last, m.GlobalPosition)
	}
	if added == 0 {
		return nil // everything already counted (a redelivery): nothing to change
	}
	count += added
	// || keeps any other keys of page_data (the page may grow) and replaces just these two.
	if _, err := tx.Exec(ctx, `UPDATE pages
		SET page_data = page_data || jsonb_build_object('videosWatched', $2::bigint, 'lastViewProcessed', $3::bigint)
		WHERE page_name = $1`, a.page, count, last); err != nil {
		return fmt.Errorf("home page: update: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("home page: commit: %w", err)
	}
	a.log.Debug("viewings counted", "added", added, "videosWatched", count, "lastViewProcessed", last)
	if a.live != nil {
		a.live.Publish(LiveTopic, LiveEvent, strconv.FormatInt(count, 10))
	}
	return nil
}

// lockPage reads the count and the watermark and locks the row until the transaction ends, creating
// the row when it is missing (a database whose seed was deleted, a view being rebuilt).
func (a *Aggregator) lockPage(ctx context.Context, tx pgx.Tx) (count, watermark int64, err error) {
	const lockSQL = `SELECT
			coalesce((page_data->>'videosWatched')::bigint, 0),
			coalesce((page_data->>'lastViewProcessed')::bigint, 0)
		FROM pages WHERE page_name = $1 FOR UPDATE`
	for range 2 {
		err = tx.QueryRow(ctx, lockSQL, a.page).Scan(&count, &watermark)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
		if _, err = tx.Exec(ctx, `INSERT INTO pages (page_name, page_data)
			VALUES ($1, '{"videosWatched": 0, "lastViewProcessed": 0}'::jsonb)
			ON CONFLICT (page_name) DO NOTHING`, a.page); err != nil {
			break
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("home page: lock row %s: %w", a.page, err)
	}
	return count, watermark, nil
}
