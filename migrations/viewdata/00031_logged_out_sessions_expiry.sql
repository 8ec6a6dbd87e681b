-- +goose Up
-- A logged-out session only needs refusing while its cookie could still be accepted: no cookie lives
-- longer than the session's absolute limit after signing in (app.DefaultSessionMaxAge), and signing in
-- came before logging out. logged_out_at (the UserLoggedOut event's time) lets the user-credentials
-- aggregator delete rows older than that limit, so the table holds about a limit's worth of log-outs
-- instead of growing forever. Rows from before this migration count as logged out now: they are kept
-- for one more full limit, which is never too short.
ALTER TABLE logged_out_sessions ADD COLUMN IF NOT EXISTS logged_out_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE logged_out_sessions ALTER COLUMN logged_out_at DROP DEFAULT;
CREATE INDEX IF NOT EXISTS logged_out_sessions_logged_out_at ON logged_out_sessions (logged_out_at);

-- +goose Down
DROP INDEX IF EXISTS logged_out_sessions_logged_out_at;
ALTER TABLE logged_out_sessions DROP COLUMN IF EXISTS logged_out_at;
