package identity

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"videotutorials/components/identity/identitymsg"
	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/messagestore"
)

// Subscriber ids of identity (persisted state: their position streams).
const (
	CommandSubscriberID         = "components:identity:command"
	EventSubscriberID           = "components:identity"
	SendEmailEventsSubscriberID = "components:identity:sendEmailEvents"
)

// Message types, spelled as the Go type names of the contract structs (as stored).
var (
	typeRegister                = messagestore.TypeName(identitymsg.Register{})
	typeRegistered              = messagestore.TypeName(identitymsg.Registered{})
	typeRegistrationRejected    = messagestore.TypeName(identitymsg.RegistrationRejected{})
	typeRegistrationEmailSent   = messagestore.TypeName(identitymsg.RegistrationEmailSent{})
	typeRegistrationEmailFailed = messagestore.TypeName(identitymsg.RegistrationEmailFailed{})
	typeEmailReserved           = messagestore.TypeName(identitymsg.EmailReserved{})
	typeSent                    = messagestore.TypeName(sendemailmsg.Sent{})
	typeFailed                  = messagestore.TypeName(sendemailmsg.Failed{})
)

// Contract declares identity's streams and subscriptions.
var Contract = messagestore.Contract{
	Name:    "identity",
	Kind:    "component",
	Owns:    []string{identitymsg.Category, identitymsg.EmailReservationCategory},
	Accepts: []string{identitymsg.CommandCategory},
	SendsTo: []string{sendemailmsg.CommandCategory},
	Subscribes: []messagestore.SubscriptionContract{
		{SubscriberID: CommandSubscriberID, Category: identitymsg.CommandCategory, Types: []string{typeRegister}},
		{SubscriberID: EventSubscriberID, Category: identitymsg.Category, Types: []string{typeRegistered}},
		{SubscriberID: SendEmailEventsSubscriberID, Category: sendemailmsg.Category, OriginCategory: identitymsg.Category,
			Types: []string{typeSent, typeFailed}},
	},
}

// Deps are what identity needs.
type Deps struct {
	Store  *messagestore.Store
	Logger *slog.Logger
	// BaseURL is the public URL of the site, linked from the registration email (no trailing slash
	// needed).
	BaseURL string
}

// Component is the identity component.
type Component struct {
	store   *messagestore.Store
	writer  *messagestore.Writer
	log     *slog.Logger
	baseURL string
	// users keeps recently projected identities, so that a fetch reads only a stream's new messages.
	users *messagestore.EntityCache[user]
}

// EntityCacheSize is how many entities each component keeps in memory per entity kind.
const EntityCacheSize = 10000

// New returns the component.
func New(d Deps) *Component {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Component{
		store:   d.Store,
		writer:  d.Store.WriterFor(Contract),
		log:     log.With("component", Contract.Name),
		baseURL: strings.TrimRight(d.BaseURL, "/"),
		users:   messagestore.NewEntityCache[user](EntityCacheSize),
	}
}

// Subscriptions returns identity's three subscriptions; main runs them under leases.
func (c *Component) Subscriptions() []messagestore.SubscriptionConfig {
	return []messagestore.SubscriptionConfig{
		{
			SubscriberID: CommandSubscriberID,
			Category:     identitymsg.CommandCategory,
			Handlers:     map[string]messagestore.Handler{typeRegister: c.HandleRegister},
		},
		{
			SubscriberID: EventSubscriberID,
			Category:     identitymsg.Category,
			Handlers:     map[string]messagestore.Handler{typeRegistered: c.HandleRegistered},
		},
		{
			SubscriberID: SendEmailEventsSubscriberID,
			Category:     sendemailmsg.Category,
			Handlers:     map[string]messagestore.Handler{typeSent: c.HandleSent, typeFailed: c.HandleFailed},
			// Only replies to identity's own Send commands: the server filters on the correlation
			// stream identity sets on Send, and the origin filter checks the book's originStreamName.
			Correlation:    identitymsg.Category,
			OriginCategory: identitymsg.Category,
		},
	}
}

// NormalizeEmail is the form in which identity records and reserves an email: trimmed, lower case and
// in Unicode normal form C, so that an address typed with composed or decomposed accents (é as one
// code point or as e and a combining accent) is one address, with one reservation (viewdata's
// NormalizeEmail, which the applications use, is the same).
func NormalizeEmail(email string) string {
	return norm.NFC.String(strings.ToLower(strings.TrimSpace(email)))
}

// namespace is identity's own UUIDv5 namespace for the ids it derives (email reservations, the
// registration email's Send command). Changing it would orphan every reservation: it is fixed forever.
var namespace = uuid.MustParse("37f55dab-505b-4875-a76b-0731cb640f4b")

// EmailReservationStreamName is the reservation stream of an email address (normalised first):
// identityEmailReservation-<UUIDv5 of the email>. Its first EmailReserved names the owner.
func EmailReservationStreamName(email string) string {
	id := uuid.NewSHA1(namespace, []byte("email:"+NormalizeEmail(email))).String()
	return messagestore.StreamName(identitymsg.EmailReservationCategory, id)
}

// registrationEmailCommandID is the message id of the Send command of a user's registration email:
// fixed per user, so that the store refuses a second one.
func registrationEmailCommandID(userID string) string {
	return uuid.NewSHA1(namespace, []byte("registration-email:"+userID)).String()
}

// isDuplicateMessageID reports whether a write failed because a message with the same id exists
// (SQLSTATE 23505 on the messages_id index). The error is matched by its SQLState method and text
// rather than by pgconn's type, because components do not import pgx.
func isDuplicateMessageID(err error) bool {
	var state interface{ SQLState() string }
	return errors.As(err, &state) && state.SQLState() == "23505" && strings.Contains(err.Error(), "messages_id")
}
