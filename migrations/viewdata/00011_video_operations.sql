-- +goose Up
-- The video-operations view (book: video_operations): the outcome of each name or describe request,
-- keyed by the request's trace id, written only by the video-operations aggregator and read by the
-- creators portal's operation page. position is the global position of the event recorded; a later
-- event of the same trace replaces an earlier one, a replay changes nothing.
CREATE TABLE IF NOT EXISTS video_operations (
    trace_id       text PRIMARY KEY,
    video_id       uuid NOT NULL,
    kind           text NOT NULL DEFAULT '',
    succeeded      boolean NOT NULL,
    failure_reason text,
    position       bigint NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS video_operations;
