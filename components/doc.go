// Package components is the home of the write side: autonomous, idempotent doers that subscribe to
// their command categories (and to events they react to) and write events to the categories they own.
//
//   - identity (components/identity): registers users, keeps emails unique, sends the registration email.
//   - send-email (components/sendemail): delivers emails and records Sent or Failed.
//   - video-publishing (components/videopublishing): publishes (transcodes), names and describes videos.
//
// Rules: a component never imports another component's root package, an application, an aggregator or
// view data; it shares only the message contracts of the …msg subpackages. Every handler fetches the
// entity by projecting its stream, decides, and writes with the expected version from the fetch.
package components
