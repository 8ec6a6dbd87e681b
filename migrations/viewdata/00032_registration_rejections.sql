-- +goose Up
-- The registrations identity rejected (RegistrationRejected: the email was taken by a registration
-- that won, e.g. two at the same moment), written by the user-credentials aggregator, so that the
-- registration-complete page can tell the visitor whose registration lost instead of thanking them.
-- position is the global position of the event; the user id is the key, so a replay inserts nothing.
CREATE TABLE IF NOT EXISTS registration_rejections (
    user_id  uuid PRIMARY KEY,
    reason   text NOT NULL,
    position bigint NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS registration_rejections;
