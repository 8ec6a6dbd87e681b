package identity

import (
	"context"
	"net/mail"

	"github.com/google/uuid"

	"videotutorials/components/identity/identitymsg"
	"videotutorials/messagestore"
)

// Reasons of RegistrationRejected (identitymsg's, where the applications read them).
const (
	ReasonEmailTaken      = identitymsg.ReasonEmailTaken
	ReasonInvalidEmail    = identitymsg.ReasonInvalidEmail
	ReasonMissingPassword = identitymsg.ReasonMissingPassword
)

// maxEmailBytes is the longest email identity registers: RFC 5321's limit for a forward path, which the
// registration form enforces too (registerusers.MaxEmailBytes).
const maxEmailBytes = 254

// HandleRegister handles a Register command: it registers the user, or rejects the registration when
// the email belongs to another user or the command is invalid. A user already registered or rejected
// is left alone, so a command handled twice writes nothing the second time.
func (c *Component) HandleRegister(ctx context.Context, m messagestore.Message) error {
	var cmd identitymsg.Register
	if err := m.Decode(&cmd); err != nil {
		// Data that cannot be decoded never will be: retrying would only park the subscription.
		c.log.Error("skipping an undecodable Register", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
		return nil
	}
	if _, err := uuid.Parse(cmd.UserID); err != nil {
		// Without a user id there is no identity stream to answer in.
		c.log.Error("skipping a Register without a valid user id", "stream", m.StreamName,
			"globalPosition", m.GlobalPosition, "userId", cmd.UserID)
		return nil
	}
	log := c.log.With("userId", cmd.UserID, "traceId", m.Metadata.TraceID)
	u, version, err := c.fetchUser(ctx, cmd.UserID)
	if err != nil {
		return err
	}
	if u.Registered || u.Rejected {
		log.Debug("Register ignored: the registration was decided before")
		return nil
	}
	md := m.FollowedFrom()
	email := NormalizeEmail(cmd.Email)
	reject := func(reason string) error {
		log.Info("registration rejected", "email", email, "reason", reason)
		return c.writeUser(ctx, cmd.UserID, version, messagestore.NewEvent(
			identitymsg.RegistrationRejected{UserID: cmd.UserID, Email: email, Reason: reason}, md))
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > maxEmailBytes ||
		identitymsg.HasUnseenCharacters(email) {
		// The application validates emails; this guards the store against other writers, and keeps a
		// "Name <address>" form from reserving something else than the address, and an address with
		// invisible characters from passing for another (the form's rule). The length matters
		// to the views: user_credentials and admin_users keep emails in unique indexes, which refuse
		// a value of a few kilobytes, and a Registered they cannot apply would stop their aggregators.
		return reject(ReasonInvalidEmail)
	}
	if cmd.PasswordHash == "" {
		return reject(ReasonMissingPassword)
	}
	owner, err := c.reserveEmail(ctx, email, cmd.UserID, md)
	if err != nil {
		return err
	}
	if owner != cmd.UserID {
		return reject(ReasonEmailTaken)
	}
	if err := c.writeUser(ctx, cmd.UserID, version, messagestore.NewEvent(
		identitymsg.Registered{UserID: cmd.UserID, Email: email, PasswordHash: cmd.PasswordHash}, md)); err != nil {
		return err
	}
	log.Info("user registered", "email", email)
	return nil
}

// reserveEmail claims email for userID unless someone holds it, and returns the owner. The claim is the
// first EmailReserved of the reservation stream, written with the expected version of the fetch that
// found none (NoStream, unless another Message DB client wrote something else there): of two
// simultaneous claims exactly one succeeds; the other gets a version conflict and reads the winner.
func (c *Component) reserveEmail(ctx context.Context, email, userID string, md messagestore.Metadata) (string, error) {
	stream := EmailReservationStreamName(email)
	for attempt := 0; ; attempt++ {
		r, version, err := messagestore.Fetch(ctx, c.store, stream, reservationProjection)
		if err != nil {
			return "", err
		}
		if r.UserID != "" {
			return r.UserID, nil
		}
		if version != messagestore.NoStream {
			// Not identity's messages, and none of them a claim: the first claim still decides.
			c.log.Warn("email reservation holds messages that are no reservation", "stream", stream, "messages", version+1)
		}
		_, err = c.writer.Write(ctx, stream, version, messagestore.NewEvent(
			identitymsg.EmailReserved{UserID: userID, Email: email}, md))
		if err == nil {
			return userID, nil
		}
		if !messagestore.IsVersionConflict(err) || attempt > 0 {
			return "", err
		}
		// Someone claimed it between our read and our write: read who.
	}
}
