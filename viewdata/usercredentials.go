package viewdata

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"
)

// UserCredentials is a row of the user_credentials view: what logging in needs. The user-credentials
// aggregator writes it from identity's Registered events.
type UserCredentials struct {
	ID           string // user id (UUID)
	Email        string // normalised: trimmed, lower case
	PasswordHash string // bcrypt
}

// NormalizeEmail is the form in which emails are stored and looked up: trimmed, lower case and in
// Unicode normal form C, as identity normalises them (so the same address typed with composed or
// decomposed accents logs in to the one account).
func NormalizeEmail(email string) string {
	return norm.NFC.String(strings.ToLower(strings.TrimSpace(email)))
}

const credentialsColumns = `SELECT id::text, email, password_hash FROM user_credentials`

// CredentialsByEmail returns the credentials registered for email (normalised before the lookup), or
// ErrNotFound.
func CredentialsByEmail(ctx context.Context, q Querier, email string) (UserCredentials, error) {
	return credentials(ctx, q, credentialsColumns+` WHERE email = $1`, NormalizeEmail(email))
}

// CredentialsByID returns the credentials of a user, or ErrNotFound (also for an id that is not a
// UUID, which cannot name a user).
func CredentialsByID(ctx context.Context, q Querier, id string) (UserCredentials, error) {
	if _, err := uuid.Parse(id); err != nil {
		return UserCredentials{}, ErrNotFound
	}
	return credentials(ctx, q, credentialsColumns+` WHERE id = $1::uuid`, id)
}

// EmailTaken reports whether a user is registered with email (normalised before the lookup). The
// register-users application uses it for a friendly early answer; identity's email reservation is what
// actually keeps emails unique.
func EmailTaken(ctx context.Context, q Querier, email string) (bool, error) {
	var taken bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_credentials WHERE email = $1)`, NormalizeEmail(email)).Scan(&taken)
	if err != nil {
		return false, fmt.Errorf("email taken: %w", err)
	}
	return taken, nil
}

func credentials(ctx context.Context, q Querier, sql string, arg string) (UserCredentials, error) {
	var c UserCredentials
	err := q.QueryRow(ctx, sql, arg).Scan(&c.ID, &c.Email, &c.PasswordHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return UserCredentials{}, ErrNotFound
	}
	if err != nil {
		return UserCredentials{}, fmt.Errorf("user credentials: %w", err)
	}
	return c, nil
}

// SessionLoggedOut reports whether the session named by ref (app.SessionRef) was logged out.
func SessionLoggedOut(ctx context.Context, q Querier, ref string) (bool, error) {
	var out bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM logged_out_sessions WHERE session_ref = $1)`, ref).Scan(&out); err != nil {
		return false, fmt.Errorf("session logged out: %w", err)
	}
	return out, nil
}

// RegistrationOutcome is what became of a registration, as far as the user-credentials view knows.
type RegistrationOutcome struct {
	Registered bool   // the user's credentials exist: they can log in
	Rejected   bool   // identity rejected the registration (Reason says why)
	Reason     string // identity's reason, e.g. "email already registered"
}

// RegistrationOutcomeOf reports the outcome of the registration of userID (a UUID). Neither field set:
// not decided yet, or not known to the view yet.
func RegistrationOutcomeOf(ctx context.Context, q Querier, userID string) (RegistrationOutcome, error) {
	var o RegistrationOutcome
	var reason *string
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_credentials WHERE id = $1::uuid),
		(SELECT reason FROM registration_rejections WHERE user_id = $1::uuid)`, userID).Scan(&o.Registered, &reason)
	if err != nil {
		return RegistrationOutcome{}, fmt.Errorf("registration outcome: %w", err)
	}
	if reason != nil && !o.Registered {
		o.Rejected, o.Reason = true, *reason
	}
	return o, nil
}
