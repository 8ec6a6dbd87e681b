// Package registerusers is the register-users application of the book: GET /register shows the form
// (with a fresh user id), POST /register validates it and sends identity a Register command, and GET
// /register/registration-complete tells the visitor what happens next.
//
// Handlers read like the book's: validate the input, check the credentials view for the email (a
// friendly early "already registered"), hash the password with bcrypt, write Register {userId, email,
// passwordHash} to identity:command-<userId>, redirect.
//
// Rules:
//   - The application sends commands to identity and owns no category. It never decides whether a
//     registration succeeds: the view is only eventually consistent, so two simultaneous registrations
//     of one email can both pass the check; identity's email reservation decides between them.
//   - The user id comes from the form, so submitting the same form twice names the same user. The
//     command is written with expected version "no stream": a resubmission finds the command already
//     there and is answered like the first one, and identity ignores duplicates anyway.
//   - The password is never logged, stored in clear or sent back to the page.
package registerusers
