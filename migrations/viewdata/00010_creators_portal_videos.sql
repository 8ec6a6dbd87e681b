-- +goose Up
-- The creators-portal view (book: creators_portal_videos): one row per video, written only by the
-- creators-videos aggregator from video-publishing's events (status, name, description, files), the
-- creators portal's PublishVideo commands (an upload shows as "processing" at once) and the viewing
-- category (views). Read by the creators portal, the watch page and the home page's video list.
--
-- Three categories feed a row and any of them may be applied first (a view can arrive before the
-- video is published), so every row is an upsert with defaults and every group of columns has its own
-- watermark: the global position of the last message that set it. A message at or below its
-- watermark was applied already, which makes every message idempotent and the table independent of
-- the order in which the categories are read. Views are counted once per viewing: views_position is
-- the global position of the last viewing counted (viewings of one video arrive in order).
-- status: '' (only viewings known so far), 'processing', 'published' or 'failed'. Text columns have
-- no length limit, so no value can stop the aggregator (the component enforces the limits).
CREATE TABLE IF NOT EXISTS creators_portal_videos (
    id                   uuid PRIMARY KEY,
    owner_id             uuid,
    name                 text NOT NULL DEFAULT '',
    description          text NOT NULL DEFAULT '',
    views                bigint NOT NULL DEFAULT 0,
    source_uri           text,
    transcoded_uri       text,
    poster_uri           text,
    status               text NOT NULL DEFAULT '',
    failure_reason       text,
    uploaded_at          timestamptz,
    -- the greatest global position of the videoPublishing events applied
    position             bigint NOT NULL DEFAULT 0,
    upload_position      bigint NOT NULL DEFAULT 0,
    status_position      bigint NOT NULL DEFAULT 0,
    name_position        bigint NOT NULL DEFAULT 0,
    description_position bigint NOT NULL DEFAULT 0,
    views_position       bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS creators_portal_videos_owner
    ON creators_portal_videos (owner_id, uploaded_at DESC, id);
CREATE INDEX IF NOT EXISTS creators_portal_videos_published
    ON creators_portal_videos (uploaded_at DESC, id) WHERE status = 'published';

-- +goose Down
DROP TABLE IF EXISTS creators_portal_videos;
