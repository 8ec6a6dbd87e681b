-- +goose Up
-- The user-credentials view (book: user_credentials), written only by the user-credentials
-- aggregator from identity's Registered events and read by the authenticate application.
-- position is the global position of the Registered event a row comes from: it makes a replayed event a
-- no-op and decides, independently of the order in which events are applied, which registration keeps
-- an email should two ever claim it (the earliest). bigint: global positions are 64-bit.
CREATE TABLE IF NOT EXISTS user_credentials (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    position      bigint NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS user_credentials;
