// Package usercredentials is the user-credentials aggregator of the book: it turns identity's
// Registered events into rows of user_credentials (id, email, password_hash), which the authenticate
// application reads to log users in and the register-users application to say an email is taken. It
// also records identity's RegistrationRejected events in registration_rejections, so that the
// registration-complete page can tell a visitor whose registration lost a race for its email.
//
// Rules: each read batch is applied in one transaction. Every row carries the global position of the
// Registered event it comes from, which is its watermark: applying an event again finds its row and
// changes nothing, and because the decision depends on positions, not on the order of arrival, events
// applied in any order — and a rebuild from position 0 — give the same table. Identity keeps emails
// unique, but the aggregator never gets stuck should two registrations ever claim one email (data
// written by another client, a bug): the earliest registration keeps the email, the other is logged
// and skipped. An event it cannot use (an id that is not a UUID, undecodable data) is logged and
// skipped too: no message can stop the aggregator.
//
// A second subscription (aggregators:user-credentials:log-outs) records authenticate's UserLoggedOut
// events in logged_out_sessions, keyed by the session's ref (a hash of its id, app.SessionRef): the web
// shell refuses a logged-out session's cookie in every process. The key makes a replay a no-op. A
// log-out is kept only while its session could still be used (Deps.KeepLogOuts, the shell's absolute
// session limit): older ones are not recorded, and recorded ones are deleted as they pass it.
package usercredentials
