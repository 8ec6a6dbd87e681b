// Package sendemail is the send-email component of the book: it delivers the emails other components
// ask for and records the outcome.
//
// It accepts Send commands in sendEmail:command-<emailId> and owns the sendEmail category
// (sendEmail-<emailId>), where it writes Sent (the command's data plus the sender) or Failed (plus the
// reason). Its one subscription is components:send-email. Replies echo the command's metadata
// (originStreamName, correlationStreamName), which is how the requester finds them.
//
// Rules: the handler projects sendEmail-<emailId> and ignores a Send whose email was already sent or
// failed, and writes the outcome with the version from that fetch. Delivery problems come in two kinds:
// transient ones (a full disk, a refused connection, an SMTP 4xx reply) are returned as
// messagestore.Transient errors so the subscription retries until they go away, and never turn into a
// Failed; permanent ones (an invalid address, an SMTP 5xx reply to the envelope or the data) are
// recorded as Failed, for people to see. The transport decides which kind an error is by marking the
// transient ones; the component honours that mark alone (retryLater), never a guess from the error's
// text or type. A pickup directory's file-system errors, EACCES and ENOENT included, are transient:
// they are the machine's fault, not the email's (pickupError).
//
// Delivery is at least once, made as close to once as a transport allows: the pickup-directory
// transport names its file after the email id, so a redelivery after a crash (between delivering and
// writing Sent) overwrites the same file; over SMTP the Message-ID is derived from the email id too, so
// a receiving system can recognise the duplicate.
//
// Transports: PickupDirectory (the default) writes one RFC 5322 .eml file per email into a directory a
// person or a mail agent picks up; SMTP delivers through a server given as an smtp:// or smtps:// URL,
// with STARTTLS and authentication when the URL asks for them, on the standard library alone.
package sendemail
