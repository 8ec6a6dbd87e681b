-- +goose Up
-- Whether each subscription is parked, from the Parked and Resumed messages of its status stream
-- (subscriberStatus-<subscriber id>), kept by the admin-subscriber-positions aggregator: the admin
-- pages of every process show a parked subscription, whichever process runs it. status_global_position
-- is the global position of the status message applied last, the watermark a replay compares with.
CREATE TABLE IF NOT EXISTS admin_subscriber_status (
    subscriber_id           text PRIMARY KEY,
    parked                  boolean NOT NULL,
    error                   text,
    failing_global_position bigint,
    failing_stream_name     text,
    failing_type            text,
    attempts                integer,
    changed_at              timestamptz NOT NULL,
    status_global_position  bigint NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS admin_subscriber_status;
