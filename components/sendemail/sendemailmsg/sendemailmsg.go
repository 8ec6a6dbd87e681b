// Package sendemailmsg is the public contract of the send-email component.
package sendemailmsg

import (
	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// Categories of the send-email component.
const (
	Category        = "sendEmail"
	CommandCategory = "sendEmail:command"
)

// EmailNamespace is the UUIDv5 namespace for email ids, as the book uses.
var EmailNamespace = uuid.MustParse("0c46e0b7-dfaf-443a-b150-053b67905cc2")

// EmailID is the id of the email sent to an address for a purpose: UUIDv5 of the text in the namespace.
func EmailID(text string) string { return uuid.NewSHA1(EmailNamespace, []byte(text)).String() }

// StreamName is the stream of one email.
func StreamName(emailID string) string { return messagestore.StreamName(Category, emailID) }

// CommandStreamName is the command stream of one email.
func CommandStreamName(emailID string) string {
	return messagestore.StreamName(CommandCategory, emailID)
}

// Send asks send-email to deliver an email. Metadata originStreamName names the stream the reply
// belongs to; correlationStreamName is set to the same so the requester can read replies filtered by
// the server.
type Send struct {
	EmailID string `json:"emailId"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Sent says an email was delivered.
type Sent struct {
	EmailID string `json:"emailId"`
	To      string `json:"to"`
	From    string `json:"from"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Failed says an email could not be delivered.
type Failed struct {
	EmailID string `json:"emailId"`
	To      string `json:"to"`
	From    string `json:"from"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
	Reason  string `json:"reason"`
}
