// Package authenticate is the authenticate application of the book: GET /auth/log-in shows the form,
// POST /auth/log-in checks the email and password against the credentials view, and POST
// /auth/log-out ends the session.
//
// A log-in reads like the book's: fetch the credentials by email, compare the password with bcrypt,
// then write UserLoggedIn {userId} (and start the session) or UserLoginFailed {userId, reason} to
// authentication-<userId>. A log-out writes UserLoggedOut {userId, sessionRef} there before it ends
// the session, so that a copy of the session's cookie is refused in every process (app.SessionRef,
// app.Deps.SessionRevoked), not only cleared in this browser.
//
// Fixes over the book's code:
//   - No enumeration: an unknown email and a wrong password get the same 401 page with the same
//     message, and both cost one bcrypt comparison (an unknown email is compared against a fixed
//     dummy hash of the same cost), so neither the answer nor its timing tells whether an address is
//     registered. (A wrong password additionally writes UserLoginFailed, a millisecond-scale insert
//     next to a bcrypt comparison of tens of milliseconds.)
//   - Throttling: failed attempts are counted per email and per client IP in fixed windows (by
//     default 5 per email and 20 per IP in 15 minutes); beyond that the form answers 429 without
//     checking the password. An email at its limit still lets an address with no failure of its own
//     try, 20 such failures a window in all, so that a stranger cannot keep the owner out with five
//     wrong passwords, and guessing from many addresses gets no more than 25 guesses a window. An attempt is counted when it starts and refunded when it succeeds, so
//     concurrent guesses cannot slip past the limit. The counters live in memory, bounded in size:
//     each process throttles on its own, and a restart forgets them.
//   - Redirects: after logging in, the browser goes to next only if it is a path on this site
//     (app.SafeRedirect), else to the home page.
//   - Log-out is a POST with a CSRF token, never a GET. A session that is not signed in any more
//     (the log-out form of a second tab, whose session the first tab logged out) needs no token: it
//     is sent home as by a log-out, and nothing is written (app.Router.LogOut).
//
// Rules: the application owns the authentication category and writes nothing else; it reads the
// credentials view through the read-only pool.
package authenticate
