// Package app is the web application shell of Video Tutorials: the Echo
// server that every web application of the book (home, record-viewings,
// register-users, authenticate, creators-portal, admin) is mounted into, and
// the request plumbing they share.
//
// # What the shell does for every request
//
// In this order (see New):
//
//  1. Deps.Middleware (metrics hooks) around everything else.
//  2. A fresh trace id (UUID) in the request context (TraceID, TraceIDFrom)
//     and the X-Trace-Id response header; a request logger with it (Logger);
//     one structured log line per request (method, route, status, latency,
//     userId, error).
//  3. Panic recovery: logged with the stack and trace id, answered with the
//     generic 500 page.
//  4. Security headers: a strict Content-Security-Policy (own origin only,
//     no inline scripts or styles), nosniff, X-Frame-Options DENY, a
//     referrer policy, Cross-Origin-Opener-Policy, a Permissions-Policy, and
//     Strict-Transport-Security on TLS connections.
//  5. A URL whose path or query is not valid UTF-8 or holds a NUL byte (text
//     PostgreSQL cannot store) is a 400; then a request body limit (1 MiB by
//     default, BodyLimit raises it per route).
//  6. The session cookie (signed, HttpOnly, SameSite=Lax, Secure over TLS,
//     expiring) and the acting user id in the request context (UserIDFrom).
//     A signed-in session that was logged out (here, or in another process:
//     Deps.SessionRevoked) counts as no session (revocation.go), and the
//     live streams it opened end (LiveStream).
//  7. CSRF protection: every POST/PUT/PATCH/DELETE needs the token from
//     CSRFToken (form field _csrf, first in the form, or header X-CSRF-Token),
//     unless routing already answers it with 404 or 405 (routes.go): no
//     handler runs for it, so it changes nothing. A log-out (Router.LogOut)
//     of a session that is not signed in is redirected as if done instead.
//
// Before routing, a HEAD request is routed to the path's GET handler and
// given back its method (net/http then sends the headers only). The shell
// also serves the embedded static assets at /static/ and renders the 404
// page for unknown routes; a path asked with a method it does not have is a
// 405 with Allow, inside a Group too (Group explains how), and OPTIONS is a 204
// with Allow. Allow lists HEAD wherever it lists GET.
//
// # Rules for applications
//
//   - An application is a type with Routes(r app.Router), built in main with
//     its own dependencies (constructor injection) and mounted with
//     Server.Mount. Applications never import each other.
//   - Handlers return errors instead of writing error responses: BadRequest,
//     Unauthorized, Forbidden, NotFound, TooManyRequests (errors.go) or any
//     other error (500, logged). The one error handler picks the status, logs
//     and renders the page (HTML for pages, text for JSON/SSE clients).
//   - Pages are rendered with Render(c, status, component) and wrapped in
//     templates.Layout(PageFor(c, title)). A page that every anonymous
//     visitor sees the same but for the CSRF token and the trace id (the home
//     page) can be rendered once per version of its data with
//     CompileAnonymousPage and served with RenderAnonymous; signed-in
//     visitors still get it rendered for them.
//   - Messages written because of a request carry TraceIDFrom(ctx) and
//     UserIDFrom(ctx) in their metadata (traceId, userId).
//   - Pages behind a log-in use RequireLogin (or RequireAdmin) on their
//     prefix group or routes. The log-in handler redirects to
//     SafeRedirect(next, "/") after SignIn, never to next unchecked.
//   - Middleware is scoped to a prefix or to routes; Router has no Use (see
//     Router for why).
//   - Long responses (live streams, video files) extend their own write
//     deadline with http.ResponseController, as LiveStream does; long
//     uploads use BodyLimit(limit, timeout).
//
// Live page updates are in the subpackage live; LiveStream adapts them to a
// route.
package app
