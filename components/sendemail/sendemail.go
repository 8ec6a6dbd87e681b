package sendemail

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/messagestore"
)

// SubscriberID is send-email's subscriber id (persisted state: its position stream).
const SubscriberID = "components:send-email"

var (
	typeSend   = messagestore.TypeName(sendemailmsg.Send{})
	typeSent   = messagestore.TypeName(sendemailmsg.Sent{})
	typeFailed = messagestore.TypeName(sendemailmsg.Failed{})
)

// Contract declares send-email's streams and subscription.
var Contract = messagestore.Contract{
	Name:    "send-email",
	Kind:    "component",
	Owns:    []string{sendemailmsg.Category},
	Accepts: []string{sendemailmsg.CommandCategory},
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: SubscriberID, Category: sendemailmsg.CommandCategory, Types: []string{typeSend}},
	},
}

// Deps are what send-email needs.
type Deps struct {
	Store     *messagestore.Store
	Logger    *slog.Logger
	Transport Transport // required: NewTransport picks one from the configuration
	// Sender is the From address of every email, e.g. "Video Tutorials <noreply@example.com>".
	Sender string
}

// Component is the send-email component.
type Component struct {
	store     *messagestore.Store
	writer    *messagestore.Writer
	log       *slog.Logger
	transport Transport
	sender    string
	// emails keeps recently projected emails, so that a fetch reads only a stream's new messages.
	emails *messagestore.EntityCache[email]
}

// EntityCacheSize is how many emails the component keeps in memory.
const EntityCacheSize = 10000

// New returns the component. It panics without a transport: that is a wiring mistake.
func New(d Deps) *Component {
	if d.Transport == nil {
		panic("sendemail.New: no Transport")
	}
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Component{store: d.Store, writer: d.Store.WriterFor(Contract), log: log.With("component", Contract.Name),
		transport: d.Transport, sender: d.Sender, emails: messagestore.NewEntityCache[email](EntityCacheSize)}
}

// Subscriptions returns send-email's subscription; main runs it under a lease.
func (c *Component) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{{
		SubscriberID: SubscriberID,
		Category:     sendemailmsg.CommandCategory,
		Handlers:     map[string]messagestore.Handler{typeSend: c.HandleSend},
	}}
}

// email is the entity projected from sendEmail-<emailId>.
type email struct {
	Sent, Failed bool
}

var emailProjection = messagestore.Projection[email]{
	Init: func() email { return email{} },
	Apply: func(e email, m messagestore.Message) (email, error) {
		switch m.Type {
		case typeSent:
			e.Sent = true
		case typeFailed:
			e.Failed = true
		}
		return e, nil
	},
}

// HandleSend delivers the email of a Send command and records Sent or Failed, unless the email's
// outcome is recorded already. A transient delivery error is returned (the subscription retries it);
// a permanent one becomes Failed.
func (c *Component) HandleSend(ctx context.Context, m messagestore.Message) error {
	var cmd sendemailmsg.Send
	if err := m.Decode(&cmd); err != nil {
		// Data that cannot be decoded never will be: retrying would only park the subscription.
		c.log.Error("skipping an undecodable Send", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
		return nil
	}
	if cmd.EmailID == "" {
		cmd.EmailID, _ = messagestore.ID(m.StreamName) // the stream names the email too
	}
	if uuid.Validate(cmd.EmailID) != nil {
		// The email id names the entity stream and the .eml file: anything but a UUID is refused before
		// it can name either.
		c.log.Error("skipping a Send without a valid email id", "stream", m.StreamName,
			"globalPosition", m.GlobalPosition, "emailId", cmd.EmailID)
		return nil
	}
	log := c.log.With("emailId", cmd.EmailID, "traceId", m.Metadata.TraceID, "originStreamName", m.Metadata.OriginStreamName)
	stream := sendemailmsg.StreamName(cmd.EmailID)
	e, version, err := messagestore.FetchCached(ctx, c.store, c.emails, stream, emailProjection)
	if err != nil {
		return err
	}
	if e.Sent || e.Failed {
		log.Debug("Send ignored: the email was dealt with")
		return nil
	}
	derr := c.transport.Deliver(ctx, Email{
		ID: cmd.EmailID, From: c.sender, To: cmd.To, Subject: cmd.Subject, Text: cmd.Text, HTML: cmd.HTML,
		// The command's time, not the clock: a redelivery produces the very same message.
		Date: m.Time,
	})
	if derr != nil && retryLater(ctx, derr) {
		log.Warn("delivery failed for now; will retry", "err", derr)
		return messagestore.Transient(fmt.Errorf("deliver email %s: %w", cmd.EmailID, derr))
	}
	md := m.FollowedFrom()
	var ev messagestore.NewMessage
	if derr != nil {
		log.Warn("email could not be delivered", "to", cmd.To, "err", derr)
		ev = messagestore.NewEvent(sendemailmsg.Failed{EmailID: cmd.EmailID, To: cmd.To, From: c.sender, Subject: cmd.Subject,
			Text: cmd.Text, HTML: cmd.HTML, Reason: derr.Error()}, md)
	} else {
		log.Info("email sent", "to", cmd.To)
		ev = messagestore.NewEvent(sendemailmsg.Sent{EmailID: cmd.EmailID, To: cmd.To, From: c.sender, Subject: cmd.Subject,
			Text: cmd.Text, HTML: cmd.HTML}, md)
	}
	_, err = c.writer.Write(ctx, stream, version, ev)
	if messagestore.IsVersionConflict(err) {
		c.emails.Invalidate(stream) // the retry projects the stream afresh
	}
	return err
}
