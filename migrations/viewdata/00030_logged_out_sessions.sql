-- +goose Up
-- The sessions users logged out of, written by the user-credentials aggregator from authenticate's
-- UserLoggedOut events and read by the web shell (app.Deps.SessionRevoked): a copy of a logged-out
-- session's cookie is refused. session_ref is app.SessionRef (a hash of the session id, not the
-- session itself); position is the global position of the event, so a replay inserts nothing.
CREATE TABLE IF NOT EXISTS logged_out_sessions (
    session_ref text PRIMARY KEY,
    user_id     uuid NOT NULL,
    position    bigint NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS logged_out_sessions;
