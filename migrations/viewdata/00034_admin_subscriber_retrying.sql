-- +goose Up
-- Whether a subscription has kept retrying a failing message for a while (the Retrying messages of
-- its status stream), beside whether it is parked: a transient error (a full disk, say) is retried
-- for as long as it takes and never parks, and was visible only in the process that runs the
-- subscription. error, the failing message's columns and attempts then describe the retried failure.
ALTER TABLE admin_subscriber_status ADD COLUMN IF NOT EXISTS retrying boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE admin_subscriber_status DROP COLUMN IF EXISTS retrying;
