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
			var e identitymsg.Registered
			if err := m.Decode(&e); err != nil {
				return u, err
			}
			u.ID, u.Email, u.Registered = e.UserID, e.Email, true
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

var reservationProjection = messagestore.Projection[reservation]{
	Init: func() reservation { return reservation{} },
	Apply: func(r reservation, m messagestore.Message) (reservation, error) {
		if m.Type == typeEmailReserved && r.UserID == "" {
			var e identitymsg.EmailReserved
			if err := m.Decode(&e); err != nil {
				return r, err
			}
			r.UserID = e.UserID
		}
		return r, nil
	},
}
