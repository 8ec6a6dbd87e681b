// Package adminusers is the admin-users aggregator: one admin_users row per user, from identity
// (Registered, RegistrationEmailSent, RegistrationEmailFailed) and authentication (UserLoggedIn).
//
// Two categories feed one row, each through its own subscription, in any order relative to each
// other. So every row carries one watermark per category (identity_position, authentication_position):
// an event at or below its category's watermark was applied already and changes nothing.
package adminusers

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app/authenticate/authenticationmsg"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/messagestore"
)

// Subscriber ids (persisted state).
const (
	IdentitySubscriberID       = "aggregators:admin-users"
	AuthenticationSubscriberID = "aggregators:admin-users:authentication"
)

var (
	registered  = messagestore.TypeName(identitymsg.Registered{})
	emailSent   = messagestore.TypeName(identitymsg.RegistrationEmailSent{})
	emailFailed = messagestore.TypeName(identitymsg.RegistrationEmailFailed{})
	loggedIn    = messagestore.TypeName(authenticationmsg.UserLoggedIn{})
)

// Contract declares what the aggregator reads; it writes no messages.
var Contract = messagestore.Contract{
	Name: "admin-users",
	Kind: "aggregator",
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: IdentitySubscriberID, Category: identitymsg.Category, Types: []string{registered, emailSent, emailFailed}},
		{SubscriberID: AuthenticationSubscriberID, Category: authenticationmsg.Category, Types: []string{loggedIn}},
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

// Aggregator maintains admin_users.
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
// three statements whatever its size; a user's events are few and close together, so a larger read
// would coalesce little more and save only a transaction per thousand messages.
const catchUpBatchSize = 1000

// Subscriptions returns the two subscriptions.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{
		{SubscriberID: IdentitySubscriberID, Category: identitymsg.Category, HandleBatch: a.HandleMessages,
			BatchTypes: []string{registered, emailSent, emailFailed}, CatchUpBatchSize: catchUpBatchSize},
		{SubscriberID: AuthenticationSubscriberID, Category: authenticationmsg.Category, HandleBatch: a.HandleMessages,
			BatchTypes: []string{loggedIn}, CatchUpBatchSize: catchUpBatchSize},
	}
}

// A batch is applied with three set-based statements in one round trip, whatever its size:
//
//   - ensureSQL creates the rows the batch names that do not exist yet, with the defaults (both
//     watermarks 0), as the first event of a user did one by one;
//   - identitySQL applies, per user, the identity events past the row's identity_position;
//   - loggedInSQL counts, per user, the logins past the row's authentication_position.
//
// The watermarks are compared inside the UPDATE with the row it is changing (u), so a batch applied
// twice, or overlapping one applied before, changes only what one-by-one application would.
const (
	ensureSQL = `INSERT INTO admin_users (id) SELECT b.id FROM unnest($1::uuid[]) AS b(id) ORDER BY b.id
ON CONFLICT (id) DO NOTHING`

	// Per user: the last Registered (reg_gp, 0 if none), the last RegistrationEmailSent (sent_gp), the
	// last of Sent and Failed (sf_gp, sf_failed, sf_reason) and the last identity event (max_gp).
	identitySQL = `UPDATE admin_users AS u SET
	email = CASE WHEN b.reg_gp > u.identity_position THEN b.email ELSE u.email END,
	registered_at = CASE WHEN b.reg_gp > u.identity_position THEN b.reg_at ELSE u.registered_at END,
	registration_email_sent = u.registration_email_sent OR b.sent_gp > u.identity_position,
	registration_email_failed_reason = CASE WHEN b.sf_gp <= u.identity_position THEN u.registration_email_failed_reason
		WHEN b.sf_failed THEN b.sf_reason END,
	identity_position = b.max_gp
FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::boolean[],
	$8::text[], $9::bigint[]) AS b(id, reg_gp, email, reg_at, sent_gp, sf_gp, sf_failed, sf_reason, max_gp)
WHERE u.id = b.id AND u.identity_position < b.max_gp`

	// Per user: the slice lo..hi of $2 holds the positions of its logins, ascending; last_at is the
	// time of the last one (max_gp).
	loggedInSQL = `UPDATE admin_users AS u SET
	login_count = u.login_count + (SELECT count(*) FROM unnest(($2::bigint[])[b.lo:b.hi]) AS g(gp)
		WHERE g.gp > u.authentication_position),
	last_login_at = b.last_at,
	authentication_position = b.max_gp
FROM unnest($1::uuid[], $3::int[], $4::int[], $5::timestamptz[], $6::bigint[]) AS b(id, lo, hi, last_at, max_gp)
WHERE u.id = b.id AND u.authentication_position < b.max_gp`
)

// maxListedEmail bounds the email kept for the list. admin_users indexes (email, id), and PostgreSQL
// refuses an entry over 2704 bytes: a Registered with an email of kilobytes (identity registered any
// length before it checked; another writer may still write one) would otherwise stop the aggregator,
// whose failure could only park it. No email anybody can register or log in with is near this long.
const maxListedEmail = 1000

// listedEmail is the email as the list keeps it: cut to maxListedEmail bytes, at a character boundary.
func listedEmail(email string) string {
	if len(email) <= maxListedEmail {
		return email
	}
	n := maxListedEmail
	for n > 0 && !utf8.RuneStart(email[n]) {
		n--
	}
	return email[:n]
}

// identityUser is what a batch's identity events do to one user.
type identityUser struct {
	regGP, sentGP, sfGP, maxGP int64
	email, sfReason            string
	regAt                      time.Time
	sfFailed                   bool
}

// loginUser is what a batch's logins do to one user: their positions, ascending.
type loginUser struct {
	gps    []int64
	lastAt time.Time
}

// HandleMessages applies one batch (of either category) in one transaction and one round trip.
//
// One by one, an event applies when it is past its category's watermark, which then moves to it. So
// an event of a batch at or below an earlier event of the same user and category in the same batch
// never applies: it is dropped here. What is left is ascending per user and category, and exactly the
// events past the row's watermark apply — which the statements decide, row by row.
func (a *Aggregator) HandleMessages(ctx context.Context, msgs []messagestore.Message) error {
	idents := map[string]*identityUser{}
	logins := map[string]*loginUser{}
	var identOrder, loginOrder []string
	for _, m := range msgs {
		var userID struct {
			UserID string `json:"userId"`
			Email  string `json:"email"`
			Reason string `json:"reason"`
		}
		err := m.Decode(&userID)
		// The canonical form: PostgreSQL's uuid type takes it, and one user's events spelt differently
		// by other writers meet under one key here, as they do in the uuid column.
		id, isUUID := messagestore.CanonicalUUID(userID.UserID)
		if err != nil || !isUUID {
			a.log.Error("skipping an event without a valid userId", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		switch m.Type {
		case registered, emailSent, emailFailed:
			u := idents[id]
			if u == nil {
				u = &identityUser{}
				idents[id] = u
				identOrder = append(identOrder, id)
			}
			if m.GlobalPosition <= u.maxGP {
				continue
			}
			u.maxGP = m.GlobalPosition
			switch m.Type {
			case registered:
				u.regGP, u.email, u.regAt = m.GlobalPosition, listedEmail(userID.Email), m.Time
			case emailSent:
				u.sentGP, u.sfGP, u.sfFailed, u.sfReason = m.GlobalPosition, m.GlobalPosition, false, ""
			case emailFailed:
				u.sfGP, u.sfFailed, u.sfReason = m.GlobalPosition, true, userID.Reason
			}
		case loggedIn:
			u := logins[id]
			if u == nil {
				u = &loginUser{}
				logins[id] = u
				loginOrder = append(loginOrder, id)
			}
			if n := len(u.gps); n > 0 && m.GlobalPosition <= u.gps[n-1] {
				continue
			}
			u.gps = append(u.gps, m.GlobalPosition)
			u.lastAt = m.Time
		}
	}
	if len(identOrder)+len(loginOrder) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	all := make([]string, 0, len(identOrder)+len(loginOrder))
	all = append(append(all, identOrder...), loginOrder...)
	batch.Queue(ensureSQL, all)
	if n := len(identOrder); n > 0 {
		ids := make([]string, n)
		regGP, sentGP, sfGP, maxGP := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		emails, reasons := make([]string, n), make([]*string, n)
		regAt := make([]*time.Time, n)
		failed := make([]bool, n)
		for i, id := range identOrder {
			u := idents[id]
			ids[i], regGP[i], sentGP[i], sfGP[i], maxGP[i] = id, u.regGP, u.sentGP, u.sfGP, u.maxGP
			emails[i], failed[i] = u.email, u.sfFailed
			if u.regGP > 0 {
				at := u.regAt
				regAt[i] = &at
			}
			if u.sfFailed {
				r := u.sfReason
				reasons[i] = &r
			}
		}
		batch.Queue(identitySQL, ids, regGP, emails, regAt, sentGP, sfGP, failed, reasons, maxGP)
	}
	if n := len(loginOrder); n > 0 {
		ids := make([]string, n)
		var gps []int64
		lo, hi := make([]int32, n), make([]int32, n)
		lastAt := make([]time.Time, n)
		maxGP := make([]int64, n)
		for i, id := range loginOrder {
			u := logins[id]
			ids[i], lastAt[i], maxGP[i] = id, u.lastAt, u.gps[len(u.gps)-1]
			lo[i] = int32(len(gps) + 1) // SQL arrays are 1-based
			gps = append(gps, u.gps...)
			hi[i] = int32(len(gps))
		}
		batch.Queue(loggedInSQL, ids, gps, lo, hi, lastAt, maxGP)
	}
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("admin users: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("admin users: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("admin users: commit: %w", err)
	}
	return nil
}
