package identity

import (
	"context"

	"videotutorials/components/identity/identitymsg"
	"videotutorials/messagestore"
)

// user is the identity entity, projected from identity-<userId>.
type user struct {
	ID                      string
	Email                   string
	Registered              bool
	Rejected                bool
	RegistrationEmailSent   bool
	RegistrationEmailFailed bool
}

var userProjection = messagestore.Projection[user]{
	Init: func() user { return user{} },
	Apply: func(u user, m messagestore.Message) (user, error) {
		switch m.Type {
		case typeRegistered:
			// One whose data cannot be read (another Message DB client's) still says the user is
			// registered. Failing here instead would fail every later message of the user for good, and
			// park the subscription that handles everyone's.
			// The first one counts: the registration email went to its address (the Send command's id
			// is fixed per user), as user-credentials keeps its credentials.
			var e identitymsg.Registered
			if !u.Registered && m.Decode(&e) == nil {
				u.ID, u.Email = e.UserID, e.Email
			}
			u.Registered = true
		case typeRegistrationRejected:
			u.Rejected = true
		case typeRegistrationEmailSent:
			u.RegistrationEmailSent = true
		case typeRegistrationEmailFailed:
			u.RegistrationEmailFailed = true
		}
		return u, nil
	},
}

// fetchUser projects a user's identity stream (through the cache: only messages it has not seen are
// read) and returns the version to write against.
func (c *Component) fetchUser(ctx context.Context, userID string) (user, int64, error) {
	return messagestore.FetchCached(ctx, c.store, c.users, identitymsg.StreamName(userID), userProjection)
}

// writeUser appends to a user's identity stream with the version from fetchUser; a version conflict
// drops the cached user, so that the retry projects the stream afresh.
func (c *Component) writeUser(ctx context.Context, userID string, version int64, ev messagestore.NewMessage) error {
	stream := identitymsg.StreamName(userID)
	_, err := c.writer.Write(ctx, stream, version, ev)
	if messagestore.IsVersionConflict(err) {
		c.users.Invalidate(stream)
	}
	return err
}

// reservation is an email reservation, projected from its stream: the first EmailReserved wins.
type reservation struct {
	UserID string
}

// unknownOwner is the owner of an address whose first EmailReserved cannot be read (another Message DB
// client wrote it): the address is taken, by nobody identity could name. It is no user id.
const unknownOwner = "(unreadable reservation)"

var reservationProjection = messagestore.Projection[reservation]{
	Init: func() reservation { return reservation{} },
	Apply: func(r reservation, m messagestore.Message) (reservation, error) {
		if m.Type == typeEmailReserved && r.UserID == "" {
			var e identitymsg.EmailReserved
			if m.Decode(&e) != nil || e.UserID == "" {
				e.UserID = unknownOwner
			}
			r.UserID = e.UserID
		}
		return r, nil
	},
}
