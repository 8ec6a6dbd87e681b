-- +goose Up
CREATE SCHEMA IF NOT EXISTS message_store;
-- +goose Down
DROP SCHEMA IF EXISTS message_store CASCADE;
