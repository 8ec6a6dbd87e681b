package creatorsvideos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// Subscriber ids of the aggregator (persisted state: their position streams).
const (
	SubscriberID         = "aggregators:creators-videos"
	ViewingsSubscriberID = "aggregators:creators-videos:viewings"
	UploadsSubscriberID  = "aggregators:creators-videos:uploads"
)

var (
	publishVideo   = messagestore.TypeName(videopublishingmsg.PublishVideo{})
	videoPublished = messagestore.TypeName(videopublishingmsg.VideoPublished{})
	videoFailed    = messagestore.TypeName(videopublishingmsg.VideoPublishingFailed{})
	videoNamed     = messagestore.TypeName(videopublishingmsg.VideoNamed{})
	videoDescribed = messagestore.TypeName(videopublishingmsg.VideoDescribed{})
	videoViewed    = messagestore.TypeName(viewingmsg.VideoViewed{})
)

var (
	publishingTypes = []string{videoPublished, videoFailed, videoNamed, videoDescribed}
	viewingTypes    = []string{videoViewed}
	uploadTypes     = []string{publishVideo}
)

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "creators-videos",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: videopublishingmsg.Category, Types: publishingTypes},
		{SubscriberID: ViewingsSubscriberID, Category: viewingmsg.Category, Types: viewingTypes},
		{SubscriberID: UploadsSubscriberID, Category: videopublishingmsg.CommandCategory, Types: uploadTypes},
	},
}

// DashboardTopic is the live topic of one creator's dashboard (app/live.DashboardTopic spells the same).
func DashboardTopic(ownerID string) string { return "dashboard:" + ownerID }

// LiveEvent is the live event the aggregator publishes (live.js's "update").
const LiveEvent = "update"

// maxLiveEvent keeps each live event under the size the cross-process bridge carries (NOTIFY).
const maxLiveEvent = 7000

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

// Aggregator maintains creators_portal_videos.
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
// the handler), so the sum over all of them is the program's peak during a catch-up. It applies to the
// publishing events and the uploads, one statement each, for which a larger read would save only a
// transaction per thousand messages. The viewings keep the store's size: they are most of a store, and
// a larger read counts more viewings of one video in one row update.
const catchUpBatchSize = 1000

// Subscriptions returns the three subscriptions; main runs them under leases.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{
		{SubscriberID: SubscriberID, Category: videopublishingmsg.Category, HandleBatch: a.HandleMessages, BatchTypes: publishingTypes,
			CatchUpBatchSize: catchUpBatchSize},
		{SubscriberID: ViewingsSubscriberID, Category: viewingmsg.Category, HandleBatch: a.HandleMessages, BatchTypes: viewingTypes,
			Linger: viewingsLinger, SteadyLinger: viewingsSteadyLinger, BatchSize: viewingsBatchSize},
		{SubscriberID: UploadsSubscriberID, Category: videopublishingmsg.CommandCategory, HandleBatch: a.HandleMessages, BatchTypes: uploadTypes,
			CatchUpBatchSize: catchUpBatchSize},
	}
}

// viewingsLinger lets viewings gather for a moment before each read (SubscriptionConfig.Linger), and
// viewingsSteadyLinger for longer between the reads of a steady stream of them
// (SubscriptionConfig.SteadyLinger): a dashboard's view count may be this late, and under a steady
// load of viewings the batches get several times larger, each costing the same two statements and one
// transaction, and one row update per video however many of its viewings the batch holds (the
// admin-streams aggregator gives the figures). A read holds up to viewingsBatchSize of them: a full
// read is followed by the next at once, so it must hold what the steady linger gathers.
const (
	viewingsLinger       = 10 * time.Millisecond
	viewingsSteadyLinger = 60 * time.Millisecond
	viewingsBatchSize    = 1000
)

// Every statement creates the row if needed and changes it only past its columns' watermark; it
// returns the row when it changed it (nothing when the watermark said "applied already"). An outcome
// whose owner cannot be read (NULL, nullUUID) keeps the owner the upload named: were it to clear it,
// the row would depend on which of the two subscriptions came first.
const (
	returning = ` RETURNING id::text, coalesce(owner_id::text, ''), name, views, status, coalesce(failure_reason, ''), description`

	uploadSQL = `INSERT INTO creators_portal_videos AS v (id, owner_id, source_uri, status, uploaded_at, upload_position)
VALUES ($1::uuid, $2::uuid, $3, 'processing', $4, $5)
ON CONFLICT (id) DO UPDATE SET
	owner_id = coalesce(v.owner_id, excluded.owner_id),
	source_uri = coalesce(v.source_uri, excluded.source_uri),
	status = CASE WHEN v.status_position = 0 THEN 'processing' ELSE v.status END,
	uploaded_at = least(v.uploaded_at, excluded.uploaded_at),
	upload_position = excluded.upload_position
WHERE v.upload_position < excluded.upload_position` + returning

	statusSQL = `INSERT INTO creators_portal_videos AS v (id, owner_id, source_uri, transcoded_uri, poster_uri, status,
	failure_reason, uploaded_at, status_position, position)
VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $9)
ON CONFLICT (id) DO UPDATE SET
	owner_id = coalesce(excluded.owner_id, v.owner_id), source_uri = excluded.source_uri, transcoded_uri = excluded.transcoded_uri,
	poster_uri = excluded.poster_uri, status = excluded.status, failure_reason = excluded.failure_reason,
	uploaded_at = least(v.uploaded_at, excluded.uploaded_at),
	status_position = excluded.status_position, position = greatest(v.position, excluded.position)
WHERE v.status_position < excluded.status_position` + returning

	nameSQL = `INSERT INTO creators_portal_videos AS v (id, name, name_position, position)
VALUES ($1::uuid, $2, $3, $3)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_position = excluded.name_position,
	position = greatest(v.position, excluded.position)
WHERE v.name_position < excluded.name_position` + returning

	describeSQL = `INSERT INTO creators_portal_videos AS v (id, description, description_position, position)
VALUES ($1::uuid, $2, $3, $3)
ON CONFLICT (id) DO UPDATE SET description = excluded.description, description_position = excluded.description_position,
	position = greatest(v.position, excluded.position)
WHERE v.description_position < excluded.description_position` + returning

	// The viewings of a batch are applied with two set-based statements, whatever their number:
	// viewedRowsSQL creates the videos' rows that do not exist yet (defaults: views 0, views_position
	// 0), as a first viewing did one by one; viewedSQL then counts, per video, the viewings past the
	// row's views_position — compared inside the UPDATE with the row it changes, so a replayed or
	// overlapping batch counts nothing twice. The slice lo..hi of $2 holds a video's viewing
	// positions, ascending; max_gp is the last of them.
	viewedRowsSQL = `INSERT INTO creators_portal_videos (id) SELECT b.id FROM unnest($1::uuid[]) AS b(id) ORDER BY b.id
ON CONFLICT (id) DO NOTHING`
	viewedSQL = `UPDATE creators_portal_videos AS v SET
	views = v.views + (SELECT count(*) FROM unnest(($2::bigint[])[b.lo:b.hi]) AS g(gp) WHERE g.gp > v.views_position),
	views_position = b.max_gp
FROM unnest($1::uuid[], $3::int[], $4::int[], $5::bigint[]) AS b(id, lo, hi, max_gp)
WHERE v.id = b.id AND v.views_position < b.max_gp
RETURNING v.id::text, coalesce(v.owner_id::text, ''), v.name, v.views, v.status, coalesce(v.failure_reason, '')`
)

// changed is a row as a statement left it.
type changed struct {
	id, owner, name, status, reason string
	views                           int64
	// description is set (described) for a VideoDescribed only: the other events leave it alone, and
	// the viewings' updates, by far the most frequent, need not carry up to 5,000 characters each.
	description string
	described   bool
}

// HandleMessages applies one batch (of any of the three categories) in one transaction: one
// round trip for all the statements, then the commit, then the live updates. The publishing events
// are one upsert each; the viewings, however many, two set-based statements (viewedRowsSQL,
// viewedSQL).
func (a *Aggregator) HandleMessages(ctx context.Context, msgs []messagestore.Message) error {
	batch := &pgx.Batch{}
	var applied []messagestore.Message
	views := map[string][]int64{} // per video, the positions of its viewings that can apply, ascending
	var viewed []string
	for _, m := range msgs {
		sql, args, ok := a.statement(m)
		if !ok {
			continue
		}
		if m.Type == videoViewed {
			id := args[0].(string)
			gps, seen := views[id]
			if !seen {
				viewed = append(viewed, id)
			}
			// One by one, a viewing at or below an earlier one of the video is not counted.
			if n := len(gps); n == 0 || m.GlobalPosition > gps[n-1] {
				views[id] = append(gps, m.GlobalPosition)
			}
			continue
		}
		batch.Queue(sql, args...)
		applied = append(applied, m)
	}
	if len(viewed) > 0 {
		n := len(viewed)
		var gps []int64
		lo, hi, maxGP := make([]int32, n), make([]int32, n), make([]int64, n)
		for i, id := range viewed {
			lo[i] = int32(len(gps) + 1) // SQL arrays are 1-based
			gps = append(gps, views[id]...)
			hi[i] = int32(len(gps))
			maxGP[i] = gps[len(gps)-1]
		}
		batch.Queue(viewedRowsSQL, viewed)
		batch.Queue(viewedSQL, viewed, gps, lo, hi, maxGP)
	}
	if batch.Len() == 0 {
		return nil
	}
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creators videos: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	br := tx.SendBatch(ctx, batch)
	var rows []changed
	for _, m := range applied {
		var c changed
		err := br.QueryRow().Scan(&c.id, &c.owner, &c.name, &c.views, &c.status, &c.reason, &c.description)
		c.described = m.Type == videoDescribed
		if errors.Is(err, pgx.ErrNoRows) {
			continue // at or below the watermark: applied before
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("creators videos: %s at %d: %w", m.Type, m.GlobalPosition, err)
		}
		rows = append(rows, c)
	}
	if len(viewed) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("creators videos: viewings' rows: %w", err)
		}
		r, err := br.Query()
		if err == nil {
			var c changed
			_, err = pgx.ForEachRow(r, []any{&c.id, &c.owner, &c.name, &c.views, &c.status, &c.reason}, func() error {
				rows = append(rows, c)
				return nil
			})
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("creators videos: viewings: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("creators videos: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("creators videos: commit: %w", err)
	}
	a.notify(rows)
	return nil
}

// statement returns the upsert for one message, or false for a message that cannot be applied (it
// is logged: retrying would only stop the aggregator).
func (a *Aggregator) statement(m messagestore.Message) (string, []any, bool) {
	videoID, ok := messagestore.CardinalID(m.StreamName)
	if ok {
		// Canonical, so that PostgreSQL takes it and its viewings are counted together in HandleMessages.
		videoID, ok = messagestore.CanonicalUUID(videoID)
	}
	if !ok {
		a.log.Error("skipping a message whose stream is not a video's", "stream", m.StreamName, "type", m.Type,
			"globalPosition", m.GlobalPosition)
		return "", nil, false
	}
	at := m.Time
	if at.IsZero() {
		at = time.Unix(0, 0).UTC()
	}
	var err error
	switch m.Type {
	case publishVideo:
		var c videopublishingmsg.PublishVideo
		if err = m.Decode(&c); err == nil {
			return uploadSQL, []any{videoID, nullUUID(c.OwnerID), c.SourceURI, at, m.GlobalPosition}, true
		}
	case videoPublished:
		var e videopublishingmsg.VideoPublished
		if err = m.Decode(&e); err == nil {
			return statusSQL, []any{videoID, nullUUID(e.OwnerID), e.SourceURI, e.TranscodedURI, nullText(e.PosterURI),
				viewdata.VideoStatusPublished, nil, at, m.GlobalPosition}, true
		}
	case videoFailed:
		var e videopublishingmsg.VideoPublishingFailed
		if err = m.Decode(&e); err == nil {
			return statusSQL, []any{videoID, nullUUID(e.OwnerID), e.SourceURI, nil, nil,
				viewdata.VideoStatusFailed, e.Reason, at, m.GlobalPosition}, true
		}
	case videoNamed:
		var e videopublishingmsg.VideoNamed
		if err = m.Decode(&e); err == nil {
			return nameSQL, []any{videoID, e.Name, m.GlobalPosition}, true
		}
	case videoDescribed:
		var e videopublishingmsg.VideoDescribed
		if err = m.Decode(&e); err == nil {
			return describeSQL, []any{videoID, e.Description, m.GlobalPosition}, true
		}
	case videoViewed:
		return viewedSQL, []any{videoID}, true // HandleMessages applies the viewings as a set
	default:
		return "", nil, false
	}
	a.log.Error("skipping a message that cannot be decoded", "stream", m.StreamName, "type", m.Type,
		"globalPosition", m.GlobalPosition, "err", err)
	return "", nil, false
}

// nullUUID passes a valid UUID on in its canonical form and anything else as NULL, so that a
// malformed owner id cannot stop the aggregator.
func nullUUID(s string) any {
	id, ok := messagestore.CanonicalUUID(s)
	if !ok {
		return nil
	}
	return id
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// notify tells each owner's dashboard the current fields of their videos that changed. Events are
// best effort; a page that misses one shows the values on its next load.
func (a *Aggregator) notify(rows []changed) {
	if a.live == nil || len(rows) == 0 {
		return
	}
	type fields = map[string]string
	byOwner := map[string]fields{}
	var owners []string
	for _, c := range rows { // later statements left later values: they overwrite earlier ones
		if c.owner == "" {
			continue
		}
		f, ok := byOwner[c.owner]
		if !ok {
			f = fields{}
			byOwner[c.owner] = f
			owners = append(owners, c.owner)
		}
		v := viewdata.CreatorsVideo{ID: c.id, Name: c.name, Views: c.views, Status: c.status, FailureReason: c.reason}
		f[c.id+".name"] = v.DisplayName()
		f[c.id+".views"] = strconv.FormatInt(v.Views, 10)
		f[c.id+".status"] = v.StatusLabel()
		f[c.id+".reason"] = v.FailureReason
		if c.described {
			f[c.id+".description"] = c.description
		}
	}
	for _, owner := range owners {
		part := fields{}
		size := 0
		flush := func() {
			if len(part) == 0 {
				return
			}
			data, _ := json.Marshal(part)
			a.live.Publish(DashboardTopic(owner), LiveEvent, string(data))
			part, size = fields{}, 0
		}
		for k, v := range byOwner[owner] {
			n := len(k) + len(v) + 8
			if size+n > maxLiveEvent {
				flush()
			}
			if n > maxLiveEvent {
				continue // a value too large to carry; the page shows it on its next load
			}
			part[k] = v
			size += n
		}
		flush()
	}
}
