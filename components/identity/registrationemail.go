package identity

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"

	"github.com/google/uuid"

	"videotutorials/components/identity/identitymsg"
	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/messagestore"
)

// HandleRegistered asks send-email to send the registration email, unless the outcome of that email
// is already known. The Send command's id is fixed per user, so handling Registered again while the
// email is on its way is refused by the store instead of sending a second email.
func (c *Component) HandleRegistered(ctx context.Context, m messagestore.Message) error {
	var e identitymsg.Registered
	if err := m.Decode(&e); err != nil {
		c.log.Error("skipping an undecodable Registered", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
		return nil
	}
	log := c.log.With("userId", e.UserID, "traceId", m.Metadata.TraceID)
	u, _, err := c.fetchUser(ctx, e.UserID)
	if err != nil {
		return err
	}
	if u.RegistrationEmailSent || u.RegistrationEmailFailed {
		log.Debug("Registered ignored: the registration email was dealt with")
		return nil
	}
	send, err := c.registrationEmail(e)
	if err != nil {
		return err
	}
	md := m.FollowedFrom()
	// The reply (Sent or Failed) echoes these, which is how it finds its way back to this user: the
	// book's originStreamName, and Message DB's correlationStreamName for filtering on the server.
	md.OriginStreamName = identitymsg.StreamName(e.UserID)
	md.CorrelationStreamName = identitymsg.StreamName(e.UserID)
	cmd := messagestore.NewEvent(send, md)
	cmd.ID = registrationEmailCommandID(e.UserID)
	_, err = c.writer.Write(ctx, sendemailmsg.CommandStreamName(send.EmailID), messagestore.AnyVersion, cmd)
	if isDuplicateMessageID(err) {
		log.Debug("registration email already requested", "emailId", send.EmailID)
		return nil
	}
	if err != nil {
		return err
	}
	log.Info("registration email requested", "emailId", send.EmailID)
	return nil
}

// HandleSent records that the registration email went out (RegistrationEmailSent), once.
func (c *Component) HandleSent(ctx context.Context, m messagestore.Message) error {
	var e sendemailmsg.Sent
	if err := m.Decode(&e); err != nil {
		c.log.Error("skipping an undecodable Sent", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
		return nil
	}
	return c.recordOutcome(ctx, m, e.EmailID, func(u user) bool { return u.RegistrationEmailSent },
		func(userID string) any { return identitymsg.RegistrationEmailSent{UserID: userID, EmailID: e.EmailID} })
}

// HandleFailed records that the registration email could not be delivered (RegistrationEmailFailed),
// once, for the admins to see. A failure reported after the email was sent changes nothing.
func (c *Component) HandleFailed(ctx context.Context, m messagestore.Message) error {
	var e sendemailmsg.Failed
	if err := m.Decode(&e); err != nil {
		c.log.Error("skipping an undecodable Failed", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
		return nil
	}
	return c.recordOutcome(ctx, m, e.EmailID,
		func(u user) bool { return u.RegistrationEmailSent || u.RegistrationEmailFailed },
		func(userID string) any {
			return identitymsg.RegistrationEmailFailed{UserID: userID, EmailID: e.EmailID, Reason: e.Reason}
		})
}

// recordOutcome writes the event about a registration email to the user named by the reply's
// originStreamName, unless done already says it was recorded.
func (c *Component) recordOutcome(ctx context.Context, m messagestore.Message, emailID string, done func(user) bool, event func(userID string) any) error {
	origin := m.Metadata.OriginStreamName
	userID, _ := messagestore.ID(origin)
	if messagestore.Category(origin) != identitymsg.Category || uuid.Validate(userID) != nil {
		c.log.Warn("skipping a reply that is not for an identity", "stream", m.StreamName, "type", m.Type,
			"globalPosition", m.GlobalPosition, "originStreamName", origin)
		return nil
	}
	log := c.log.With("userId", userID, "emailId", emailID, "traceId", m.Metadata.TraceID)
	u, version, err := c.fetchUser(ctx, userID)
	if err != nil {
		return err
	}
	if !u.Registered {
		// Identity sends the email only after Registered, so this reply is about something else.
		log.Warn("skipping a reply for a user who is not registered", "type", m.Type, "stream", m.StreamName)
		return nil
	}
	if u.Email != "" && emailID != sendemailmsg.EmailID(u.Email) {
		// Not the registration email (its id is fixed by the address): another email of the user, or
		// another writer's reply. It says nothing about the registration email.
		log.Warn("skipping a reply about another email than the registration email", "type", m.Type, "stream", m.StreamName)
		return nil
	}
	if done(u) {
		log.Debug("reply ignored: already recorded", "type", m.Type)
		return nil
	}
	ev := messagestore.NewEvent(event(userID), m.FollowedFrom())
	if err := c.writeUser(ctx, userID, version, ev); err != nil {
		return err
	}
	log.Info("registration email outcome recorded", "event", ev.Type)
	return nil
}

const registrationSubject = "Welcome to Video Tutorials"

var registrationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello {{.Email}},

welcome to Video Tutorials! Your account is ready: log in with this email address and start watching.

{{.URL}}

If you did not register, you can ignore this email.
`))

var registrationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="en">
<body style="font-family: sans-serif; line-height: 1.5">
<p>Hello {{.Email}},</p>
<p>welcome to Video Tutorials! Your account is ready: log in with this email address and start watching.</p>
<p><a href="{{.URL}}">Go to Video Tutorials</a></p>
<p style="color: #666">If you did not register, you can ignore this email.</p>
</body>
</html>
`))

// registrationEmail is the Send command of a user's registration email. Its email id is the book's:
// UUIDv5 of the address in send-email's namespace.
func (c *Component) registrationEmail(e identitymsg.Registered) (sendemailmsg.Send, error) {
	data := struct{ Email, URL string }{e.Email, c.baseURL + "/"}
	var text, html bytes.Buffer
	// The HTML part escapes the address and the link (an address may contain ' or &); the text part
	// shows them as they are.
	if err := registrationText.Execute(&text, data); err != nil {
		return sendemailmsg.Send{}, fmt.Errorf("registration email text: %w", err)
	}
	if err := registrationHTML.Execute(&html, data); err != nil {
		return sendemailmsg.Send{}, fmt.Errorf("registration email html: %w", err)
	}
	return sendemailmsg.Send{
		EmailID: sendemailmsg.EmailID(e.Email),
		To:      e.Email,
		Subject: registrationSubject,
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}
