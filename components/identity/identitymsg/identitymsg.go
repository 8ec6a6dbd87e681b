// Package identitymsg is the public contract of the identity component: its categories, commands and
// events. Anyone may import it; it imports only the message store.
package identitymsg

import (
	"strings"
	"unicode"

	"videotutorials/messagestore"
)

// Categories of the identity component.
const (
	// Category holds one stream per user: identity-<userId>.
	Category = "identity"
	// CommandCategory is identity's inbox: identity:command-<userId>.
	CommandCategory = "identity:command"
	// EmailReservationCategory holds one stream per normalised email address
	// (identityEmailReservation-<UUIDv5 of the email>); its first message decides who owns the address,
	// which keeps emails unique even for simultaneous registrations.
	EmailReservationCategory = "identityEmailReservation"
)

// StreamName is the identity stream of a user.
func StreamName(userID string) string { return messagestore.StreamName(Category, userID) }

// CommandStreamName is the command stream of a user.
func CommandStreamName(userID string) string { return messagestore.StreamName(CommandCategory, userID) }

// Register asks identity to register a user (written by the register-users application).
type Register struct {
	UserID       string `json:"userId"`
	Email        string `json:"email"`
	PasswordHash string `json:"passwordHash"`
}

// Registered says a user is registered.
type Registered struct {
	UserID       string `json:"userId"`
	Email        string `json:"email"`
	PasswordHash string `json:"passwordHash"`
}

// The reasons a RegistrationRejected gives: part of the contract, so that readers can tell them apart.
const (
	ReasonEmailTaken      = "email already registered"
	ReasonInvalidEmail    = "email is not a valid address"
	ReasonMissingPassword = "password hash is missing"
)

// HasUnseenCharacters reports whether email has a character with no place in an address someone
// types: a control character, a space (ASCII's fail to parse anyway; net/mail lets the others through:
// no-break, ideographic, line separators) or a format character (zero-width spaces and joiners,
// byte-order marks, direction marks and overrides, soft hyphens). Each makes an address look like
// another, or like one with a space in it, on every page that shows it, and nobody can type it back
// at the log-in form. The register form and identity refuse such an address alike (ReasonInvalidEmail).
func HasUnseenCharacters(email string) bool {
	return strings.IndexFunc(email, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
	}) >= 0
}

// RegistrationRejected says a registration was refused (for example the email is taken); Reason is one
// of the Reason constants.
type RegistrationRejected struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// RegistrationEmailSent says the registration email went out.
type RegistrationEmailSent struct {
	UserID  string `json:"userId"`
	EmailID string `json:"emailId"`
}

// RegistrationEmailFailed says the registration email could not be delivered (recorded for admins).
type RegistrationEmailFailed struct {
	UserID  string `json:"userId"`
	EmailID string `json:"emailId"`
	Reason  string `json:"reason"`
}

// EmailReserved claims an email address for a user (in the email's reservation stream).
type EmailReserved struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
}
