-- +goose Up
-- The count a stream's row had before the admin-streams aggregator's last upsert of it. The upsert sets
-- it to the count it found on the row it locked, and returns by how much the stream grew, so that the
-- stream's category grows by as much in the same statement: before, a separate SELECT … FOR UPDATE of
-- the batch's rows fetched those counts first (docs/BENCHMARKS.md).
ALTER TABLE admin_streams ADD COLUMN IF NOT EXISTS message_count_before bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE admin_streams DROP COLUMN IF EXISTS message_count_before;
