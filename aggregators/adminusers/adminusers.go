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

	"github.com/google/uuid"
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

// Subscriptions returns the two subscriptions.
func (a *Aggregator) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{
		{SubscriberID: IdentitySubscriberID, Category: identitymsg.Category, HandleBatch: a.HandleMessages,
			BatchTypes: []string{registered, emailSent, emailFailed}},
		{SubscriberID: AuthenticationSubscriberID, Category: authenticationmsg.Category, HandleBatch: a.HandleMessages,
			BatchTypes: []string{loggedIn}},
	}
}

// Each statement creates the row if needed and changes it only past the category's watermark.
const (
	registeredSQL = `INSERT INTO admin_users AS u (id, email, registered_at, identity_position)
VALUES ($1::uuid, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET email = excluded.email, registered_at = excluded.registered_at,
	identity_position = excluded.identity_position
WHERE u.identity_position < excluded.identity_position`
	emailSentSQL = `INSERT INTO admin_users AS u (id, registration_email_sent, identity_position)
VALUES ($1::uuid, true, $2)
ON CONFLICT (id) DO UPDATE SET registration_email_sent = true, registration_email_failed_reason = NULL,
	identity_position = excluded.identity_position
WHERE u.identity_position < excluded.identity_position`
	emailFailedSQL = `INSERT INTO admin_users AS u (id, registration_email_failed_reason, identity_position)
VALUES ($1::uuid, $2, $3)
ON CONFLICT (id) DO UPDATE SET registration_email_failed_reason = excluded.registration_email_failed_reason,
	identity_position = excluded.identity_position
WHERE u.identity_position < excluded.identity_position`
	loggedInSQL = `INSERT INTO admin_users AS u (id, login_count, last_login_at, authentication_position)
VALUES ($1::uuid, 1, $2, $3)
ON CONFLICT (id) DO UPDATE SET login_count = u.login_count + 1, last_login_at = excluded.last_login_at,
	authentication_position = excluded.authentication_position
WHERE u.authentication_position < excluded.authentication_position`
)

// HandleMessages applies one batch (of one category) in one transaction.
func (a *Aggregator) HandleMessages(ctx context.Context, msgs []messagestore.Message) error {
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("admin users: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	for _, m := range msgs {
		var userID struct {
			UserID string `json:"userId"`
			Email  string `json:"email"`
			Reason string `json:"reason"`
		}
		if err := m.Decode(&userID); err != nil || uuid.Validate(userID.UserID) != nil {
			a.log.Error("skipping an event without a valid userId", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
			continue
		}
		switch m.Type {
		case registered:
			_, err = tx.Exec(ctx, registeredSQL, userID.UserID, userID.Email, m.Time, m.GlobalPosition)
		case emailSent:
			_, err = tx.Exec(ctx, emailSentSQL, userID.UserID, m.GlobalPosition)
		case emailFailed:
			_, err = tx.Exec(ctx, emailFailedSQL, userID.UserID, userID.Reason, m.GlobalPosition)
		case loggedIn:
			_, err = tx.Exec(ctx, loggedInSQL, userID.UserID, m.Time, m.GlobalPosition)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("admin users: %s at %d: %w", m.Type, m.GlobalPosition, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("admin users: commit: %w", err)
	}
	return nil
}
