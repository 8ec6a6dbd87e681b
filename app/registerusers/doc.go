// Package registerusers is the register-users application of the book: GET /register shows the form
// (with a fresh user id), POST /register validates it and sends identity a Register command, and GET
// /register/registration-complete tells the visitor what happens next.
//
// Handlers read like the book's: validate the input, fetch the form's command stream (was this user
// id used?), check the credentials view for the email (a friendly early "already registered"), hash
// the password with bcrypt, write Register {userId, email, passwordHash} to
// identity:command-<userId>, redirect.
//
// Rules:
//   - The application sends commands to identity and owns no category. It never decides whether a
//     registration succeeds: the view is only eventually consistent, so two simultaneous registrations
//     of one email can both pass the check; identity's email reservation decides between them.
//   - The user id comes from the form, so submitting the same form twice names the same user. The
//     command is written with expected version "no stream", and identity ignores duplicates anyway.
//     A resubmission with the same email (a double click, a reload) finds its command already there
//     and is answered like the first one. A resubmission with another email is another person's
//     registration, which identity would ignore: it is refused (409) with the form and a fresh user
//     id, never thanked for. So is a used user id whose Register cannot be read.
//   - Emails are checked more strictly than net/mail does: valid UTF-8 without control characters,
//     odd spaces or invisible characters (identitymsg.HasUnseenCharacters, identity's rule too),
//     a domain of two labels or more, each 1-63 bytes of letters, digits and inner hyphens (any
//     script), and at most 254 bytes in all.
//   - The password is never logged, stored in clear or sent back to the page.
package registerusers
