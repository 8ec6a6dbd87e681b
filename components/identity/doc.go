// Package identity is the identity component of the book: it registers users, keeps their emails
// unique and has the registration email sent.
//
// It owns the identity category (one stream per user: identity-<userId>) and the
// identityEmailReservation category (one stream per normalised email), accepts Register commands in
// identity:command, and sends Send commands to send-email's inbox sendEmail:command. It runs three
// subscriptions:
//
//   - components:identity:command (identity:command, Register): registers the user, or rejects the
//     registration when the email belongs to someone else.
//   - components:identity (identity, Registered): asks send-email to send the registration email.
//   - components:identity:sendEmailEvents (sendEmail, Sent and Failed of emails whose
//     originStreamName is an identity stream): records RegistrationEmailSent or RegistrationEmailFailed.
//
// Rules: every handler fetches the user's entity by projecting identity-<userId>, decides (a message
// already dealt with is ignored, an invalid one is answered with a rejection event), and writes with the
// version from the fetch, so a concurrent write makes it fail with a version conflict, which the
// subscription retries. Every message it writes carries metadata that follows from the message handled
// (trace, acting user, causation).
//
// Email uniqueness holds even for simultaneous registrations: before Registered, the handler claims the
// email by writing EmailReserved to identityEmailReservation-<id of the email> with expected version
// NoStream. Only one writer can create that stream; the first message names the owner. A registration
// that finds the email owned by another user is rejected; one that finds its own reservation (a retry
// after a crash between the two writes) goes on.
//
// The registration email is sent at most once per user: the Send command has an id derived from the
// user id, so a second Send (the Registered event handled again before Sent came back) is refused by the
// store's unique message id, which the handler takes as "already asked".
package identity
