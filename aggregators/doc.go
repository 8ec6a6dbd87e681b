// Package aggregators is the home of the read side: one package per view, each subscribing to events
// and shaping them into view tables that the applications read.
//
// Rules: only aggregators write view data. Every handler is idempotent (applying an event twice changes
// nothing), tolerant of order between categories, and guarded by a position watermark kept in the
// same transaction as the change, so every view can be dropped and rebuilt from the message store
// with the same result. An aggregator imports the message store, …msg contract packages, viewdata row
// types and pgx — never a component, an application or the templates.
package aggregators
