-- +goose Up
-- The admin portal's views. Written only by the admin-users, admin-streams and
-- admin-subscriber-positions aggregators; read by app/admin. Every list the portal shows is a keyset
-- page over one of the indexes below, so no admin page scans the message table.

-- admin-users: one row per user from identity and authentication. Two categories feed it, so the
-- watermarks are per user and per category (identity_position, authentication_position): an event
-- at or below its category's watermark was applied already.
CREATE TABLE IF NOT EXISTS admin_users (
    id                               uuid PRIMARY KEY,
    email                            text NOT NULL DEFAULT '',
    registered_at                    timestamptz,
    registration_email_sent          boolean NOT NULL DEFAULT false,
    registration_email_failed_reason text,
    login_count                      bigint NOT NULL DEFAULT 0,
    last_login_at                    timestamptz,
    identity_position                bigint NOT NULL DEFAULT 0,
    authentication_position          bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS admin_users_email ON admin_users (email, id);

-- admin-streams: per stream. message_count = max(position)+1 (positions are gapless), so applying a
-- message twice, or in another order, changes nothing. last_position tells which message is the last.
CREATE TABLE IF NOT EXISTS admin_streams (
    stream_name                  text PRIMARY KEY,
    category                     text NOT NULL,
    message_count                bigint NOT NULL,
    last_position                bigint NOT NULL,
    last_message_id              uuid NOT NULL,
    last_message_global_position bigint NOT NULL,
    last_message_type            text NOT NULL,
    last_message_time            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_streams_category ON admin_streams (category, stream_name);

-- admin-streams: per category, the sum of its streams' counts (maintained by the same transaction).
CREATE TABLE IF NOT EXISTS admin_categories (
    category             text PRIMARY KEY,
    message_count        bigint NOT NULL,
    last_global_position bigint NOT NULL
);

-- admin-streams: one small row per message, for the filters the message store has no index for
-- (type, trace, acting user). Keyed by global position, so a replay inserts nothing.
CREATE TABLE IF NOT EXISTS admin_message_index (
    global_position bigint PRIMARY KEY,
    stream_name     text NOT NULL,
    category        text NOT NULL,
    type            text NOT NULL,
    trace_id        text,
    user_id         text
);
CREATE INDEX IF NOT EXISTS admin_message_index_type ON admin_message_index (type, global_position);
CREATE INDEX IF NOT EXISTS admin_message_index_trace ON admin_message_index (trace_id, global_position)
    WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS admin_message_index_user ON admin_message_index (user_id, global_position)
    WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS admin_message_index_user_category ON admin_message_index (user_id, category, global_position)
    WHERE user_id IS NOT NULL;

-- admin-subscriber-positions: the last Read of every subscriber.
CREATE TABLE IF NOT EXISTS admin_subscriber_positions (
    subscriber_id             text PRIMARY KEY,
    position                  bigint NOT NULL,
    transaction_id            text,
    updated_at                timestamptz NOT NULL,
    last_read_global_position bigint NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS admin_subscriber_positions;
DROP TABLE IF EXISTS admin_message_index;
DROP TABLE IF EXISTS admin_categories;
DROP TABLE IF EXISTS admin_streams;
DROP TABLE IF EXISTS admin_users;
