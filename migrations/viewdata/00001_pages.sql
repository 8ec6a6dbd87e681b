-- +goose Up
-- The home page view (book: pages row 'home'). Written only by the home-page aggregator.
CREATE TABLE IF NOT EXISTS pages (
    page_name text PRIMARY KEY,
    page_data jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- +goose Down
DROP TABLE IF EXISTS pages;
