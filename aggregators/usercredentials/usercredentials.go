package usercredentials

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app/authenticate/authenticationmsg"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// SubscriberID is the user-credentials aggregator's subscriber id (persisted state).
const SubscriberID = "aggregators:user-credentials"

// LogOutsSubscriberID is its subscription to authenticate's log-outs (logged_out_sessions).
const LogOutsSubscriberID = "aggregators:user-credentials:log-outs"

var (
	registered    = messagestore.TypeName(identitymsg.Registered{})
	rejected      = messagestore.TypeName(identitymsg.RegistrationRejected{})
	userLoggedOut = messagestore.TypeName(authenticationmsg.UserLoggedOut{})
)

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "user-credentials",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: identitymsg.Category, Types: []string{registered, rejected}},
		{SubscriberID: LogOutsSubscriberID, Category: authenticationmsg.Category, Types: []string{userLoggedOut}},
	},
}

// Notifier publishes live-page events. The user-credentials view has no live page; the field exists so
// that every aggregator is wired the same way.
type Notifier interface {
	Publish(topic, event, data string)
}

// Deps are what the aggregator needs.
type Deps struct {
	DB     *pgxpool.Pool // view data
	Logger *slog.Logger
	Live   Notifier // unused; may be nil
	// KeepLogOuts is how long a log-out stays in logged_out_sessions: the longest a session cookie can
	// be accepted (the web shell's absolute session limit). Older log-outs are not recorded, and recorded
	// ones are deleted once they are that old. 0 keeps them forever.
	KeepLogOuts time.Duration
}

// Aggregator maintains the user_credentials view.
type Aggregator struct {
	db          *pgxpool.Pool
	log         *slog.Logger
	keepLogOuts time.Duration
	now         func() time.Time // time.Now; tests move it
	lastPrune   time.Time        // touched only by the log-outs subscription's handler
}

// pruneEvery is how often, at most, HandleLogOuts deletes expired log-outs: they only need to go
// eventually, and the delete is a range scan of an index.
const pruneEvery = time.Hour

// New returns the aggregator.
func New(d Deps) *Aggregator {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Aggregator{db: d.DB, log: log.With("aggregator", Contract.Name), keepLogOuts: d.KeepLogOuts, now: time.Now}
}

// catchUpBatchSize is this aggregator's read size while its subscription is behind, instead of the
// store's 2,000. Every subscription that is catching up holds a whole read in memory at the same time
// (about 0.7 KB a message as the store hands it over, plus the copy of it the subscription passes to
// the handler), so the sum over all of them is the program's peak during a catch-up. Here each
// registration is one statement of its own, so a larger read would save only a transaction per thousand
// messages.
const catchUpBatchSize = 1000

// Subscriptions returns the aggregator's subscription; main runs it under a lease.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID:     SubscriberID,
		Category:         identitymsg.Category,
		HandleBatch:      a.HandleRegistrations,
		BatchTypes:       []string{registered, rejected},
		CatchUpBatchSize: catchUpBatchSize,
	}, {
		SubscriberID:     LogOutsSubscriberID,
		Category:         authenticationmsg.Category,
		HandleBatch:      a.HandleLogOuts,
		BatchTypes:       []string{userLoggedOut},
		CatchUpBatchSize: catchUpBatchSize,
	}}
}

// Text the view's unique indexes could not hold (PostgreSQL refuses an entry over 2704 bytes) would
// stop the aggregator, whose failure could only park it; none of it can be of use. Log-in looks up
// emails of at most 254 bytes (RFC 5321's limit, which the registration form and identity enforce; a
// Registered event from before identity checked it, or from another writer, may hold more), and a
// session ref is 32 hex digits (app.SessionRef). Events with longer ones are logged and skipped.
const (
	maxEmailBytes      = 254
	maxSessionRefBytes = 256
)

// logOutSQL records the log-outs of a batch; a replay inserts nothing (the session's ref is the key).
const logOutSQL = `INSERT INTO logged_out_sessions (session_ref, user_id, position, logged_out_at)
SELECT r, u, p, t FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::timestamptz[]) AS l(r, u, p, t)
ON CONFLICT (session_ref) DO NOTHING`

// pruneSQL deletes the log-outs older than the keep limit ($1 is the cut-off).
const pruneSQL = `DELETE FROM logged_out_sessions WHERE logged_out_at < $1`

// HandleLogOuts records the sessions of a batch's UserLoggedOut events in logged_out_sessions, in one
// statement. An event without a session ref or with a user id that is not a UUID is logged and skipped;
// one older than KeepLogOuts is skipped too (its session has expired anyway), and at most once every
// pruneEvery the recorded log-outs that have grown that old are deleted.
func (a *Aggregator) HandleLogOuts(ctx context.Context, msgs []messagestore.Message) error {
	now := a.now()
	var cutOff time.Time
	if a.keepLogOuts > 0 {
		cutOff = now.Add(-a.keepLogOuts)
	}
	var refs, users []string
	var positions []int64
	var times []time.Time
	for _, m := range msgs {
		if m.Type != userLoggedOut {
			continue
		}
		at := m.Time
		if at.IsZero() { // not read from a store (tests, tools): count it as now
			at = now
		}
		if at.Before(cutOff) {
			continue
		}
		var e authenticationmsg.UserLoggedOut
		err := m.Decode(&e)
		if err == nil {
			e.UserID, err = canonicalUserID(e.UserID)
		}
		if err == nil && e.SessionRef == "" {
			err = fmt.Errorf("no session ref")
		}
		if err == nil && len(e.SessionRef) > maxSessionRefBytes {
			err = fmt.Errorf("a session ref of %d bytes is none of ours", len(e.SessionRef))
		}
		if err != nil {
			a.log.Error("skipping a UserLoggedOut event that names no session", "stream", m.StreamName,
				"globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		refs, users, positions = append(refs, e.SessionRef), append(users, e.UserID), append(positions, m.GlobalPosition)
		times = append(times, at)
	}
	if len(refs) > 0 {
		if _, err := a.db.Exec(ctx, logOutSQL, refs, users, positions, times); err != nil {
			return fmt.Errorf("user credentials: log-outs: %w", err)
		}
	}
	if a.keepLogOuts > 0 && now.Sub(a.lastPrune) >= pruneEvery {
		tag, err := a.db.Exec(ctx, pruneSQL, cutOff)
		if err != nil {
			return fmt.Errorf("user credentials: pruning log-outs: %w", err)
		}
		a.lastPrune = now
		if n := tag.RowsAffected(); n > 0 {
			a.log.Info("deleted expired log-outs", "rows", n, "olderThan", cutOff)
		}
	}
	return nil
}

// canonicalUserID returns a user id in the form PostgreSQL's uuid type takes and id::text gives back
// (resolve compares them): other Message DB clients may spell a UUID in any form google/uuid accepts,
// "urn:uuid:…" included, which the uuid type refuses.
func canonicalUserID(s string) (string, error) {
	id, ok := messagestore.CanonicalUUID(s)
	if !ok {
		return "", fmt.Errorf("user id %.60q is not a UUID", s)
	}
	return id, nil
}

type row struct {
	id, email, passwordHash string
	position                int64
	m                       messagestore.Message
}

const insertSQL = `INSERT INTO user_credentials (id, email, password_hash, position)
VALUES ($1::uuid, $2, $3, $4) ON CONFLICT DO NOTHING`

// HandleRegistrations applies the Registered events of one batch in one transaction. The common case
// (new users) costs one round trip for the whole batch; only events whose insert found a conflict —
// a replay, or an email claimed twice — are looked at one by one.
func (a *Aggregator) HandleRegistrations(ctx context.Context, msgs []messagestore.Message) error {
	rows := a.decode(msgs)
	rejections := a.rejections(msgs)
	if len(rows) == 0 && len(rejections.ids) == 0 {
		return nil
	}
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("user credentials: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op

	if len(rejections.ids) > 0 {
		if _, err := tx.Exec(ctx, rejectionsSQL, rejections.ids, rejections.reasons, rejections.positions); err != nil {
			return fmt.Errorf("user credentials: rejections: %w", err)
		}
	}
	batch := &pgx.Batch{}
	for _, r := range rows {
		batch.Queue(insertSQL, r.id, r.email, r.passwordHash, r.position)
	}
	br := tx.SendBatch(ctx, batch)
	var conflicts []row
	for _, r := range rows {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return fmt.Errorf("user credentials: insert %s: %w", r.id, err)
		}
		if tag.RowsAffected() == 0 {
			conflicts = append(conflicts, r)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("user credentials: insert: %w", err)
	}
	for _, r := range conflicts {
		if err := a.resolve(ctx, tx, r); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("user credentials: commit: %w", err)
	}
	return nil
}

// rejectionsSQL records a batch's RegistrationRejected events; a replay inserts nothing (the user id
// is the key, and identity rejects a user id once).
const rejectionsSQL = `INSERT INTO registration_rejections (user_id, reason, position)
SELECT u, r, p FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS j(u, r, p)
ON CONFLICT (user_id) DO NOTHING`

// rejectionRows are a batch's rejections, as the columns of rejectionsSQL.
type rejectionRows struct {
	ids, reasons []string
	positions    []int64
}

// rejections collects the batch's RegistrationRejected events; one that names no user (a UUID) is
// logged and skipped, as in decode.
func (a *Aggregator) rejections(msgs []messagestore.Message) rejectionRows {
	var out rejectionRows
	for _, m := range msgs {
		if m.Type != rejected {
			continue
		}
		var e identitymsg.RegistrationRejected
		err := m.Decode(&e)
		if err == nil {
			e.UserID, err = canonicalUserID(e.UserID)
		}
		if err != nil {
			a.log.Error("skipping a RegistrationRejected event that names no user", "stream", m.StreamName,
				"globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		out.ids, out.reasons, out.positions = append(out.ids, e.UserID), append(out.reasons, e.Reason), append(out.positions, m.GlobalPosition)
	}
	return out
}

// decode keeps the events that can become rows and logs the others: they can never succeed, so
// retrying them would only stop the aggregator.
func (a *Aggregator) decode(msgs []messagestore.Message) []row {
	rows := make([]row, 0, len(msgs))
	for _, m := range msgs {
		if m.Type != registered {
			continue
		}
		var e identitymsg.Registered
		err := m.Decode(&e)
		if err == nil {
			e.UserID, err = canonicalUserID(e.UserID)
		}
		email := viewdata.NormalizeEmail(e.Email)
		if err == nil && len(email) > maxEmailBytes {
			err = fmt.Errorf("an email of %d bytes is longer than anyone can log in with", len(email))
		}
		if err != nil {
			a.log.Error("skipping a Registered event that cannot become credentials", "stream", m.StreamName,
				"globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		rows = append(rows, row{id: e.UserID, email: email, passwordHash: e.PasswordHash,
			position: m.GlobalPosition, m: m})
	}
	return rows
}

// resolve decides an insert that found a row with the same id or email. The rule depends only on
// positions, so any order of application ends with the same table: a row of the same user means the
// event was applied already; another user's row keeps the email if it comes from an earlier event and
// gives it up otherwise.
func (a *Aggregator) resolve(ctx context.Context, tx pgx.Tx, r row) error {
	q, err := tx.Query(ctx, `SELECT id::text, email, position FROM user_credentials
		WHERE id = $1::uuid OR email = $2 FOR UPDATE`, r.id, r.email)
	if err != nil {
		return fmt.Errorf("user credentials: conflict of %s: %w", r.id, err)
	}
	type existing struct {
		id, email string
		position  int64
	}
	found, err := pgx.CollectRows(q, func(row pgx.CollectableRow) (existing, error) {
		var e existing
		return e, row.Scan(&e.id, &e.email, &e.position)
	})
	if err != nil {
		return fmt.Errorf("user credentials: conflict of %s: %w", r.id, err)
	}
	log := a.log.With("userId", r.id, "email", r.email, "stream", r.m.StreamName, "globalPosition", r.position)
	for _, e := range found {
		switch {
		case e.id == r.id && e.position == r.position:
			return nil // applied before: nothing to do
		case e.position < r.position && e.id == r.id:
			log.Warn("user registered twice; the first registration is kept", "keptEmail", e.email, "keptPosition", e.position)
			return nil
		case e.position < r.position:
			log.Warn("email already registered by another user; registration skipped", "ownerId", e.id, "ownerPosition", e.position)
			return nil
		}
	}
	// Every conflicting row comes from a later event than this one, which is being applied out of
	// order: the earliest registration keeps the email (and the user keeps their first email), as a
	// rebuild in position order decides.
	for _, e := range found {
		log.Warn("earlier registration applied after a conflicting later one; it takes the row over",
			"replacedId", e.id, "replacedEmail", e.email, "replacedPosition", e.position)
		if _, err := tx.Exec(ctx, `DELETE FROM user_credentials WHERE id = $1::uuid`, e.id); err != nil {
			return fmt.Errorf("user credentials: replace %s: %w", e.id, err)
		}
	}
	if _, err := tx.Exec(ctx, insertSQL, r.id, r.email, r.passwordHash, r.position); err != nil {
		return fmt.Errorf("user credentials: insert %s: %w", r.id, err)
	}
	return nil
}
