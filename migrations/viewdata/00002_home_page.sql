-- +goose Up
-- The home page view starts at zero, so the home page works before any viewing exists and the
-- home-page aggregator only ever updates this row (it re-creates it should it ever be missing).
INSERT INTO pages (page_name, page_data)
VALUES ('home', '{"videosWatched": 0, "lastViewProcessed": 0}'::jsonb)
ON CONFLICT (page_name) DO NOTHING;

-- +goose Down
DELETE FROM pages WHERE page_name = 'home';
