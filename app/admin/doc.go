// Package admin is the admin portal (book: admin-portal), for administrators only: every route is
// behind app.RequireLogin and app.RequireAdmin (anonymous → log-in page, other users → 403).
//
// It reads view data (admin_users, admin_streams, admin_categories, admin_message_index,
// admin_subscriber_positions) and the message store, through viewdata's keyset queries only: every
// list is a page over an index, with a page size of at most viewdata.AdminMaxPageSize and an opaque
// cursor (a malformed one is a 400). Password hashes and email bodies are redacted in every view
// (viewdata.RedactMessageJSON) before a template sees them.
//
// Beyond the book: the trace explorer (/admin/traces/:traceId), the health of this process's
// subscriptions with a retry action and live updates (/admin/subscriptions), and the system map
// generated from the contracts (/admin/system).
package admin
