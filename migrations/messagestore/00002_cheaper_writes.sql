-- +goose Up
--
-- Cheaper writes.
--
-- 1. The consumer-group hash column, spelled with built-in functions only.
--
-- 00001 defined cardinal_id_hash as hash_64(cardinal_id(stream_name)). PostgreSQL 15 prepares a stored
-- generated column's expression once per INSERT statement, and preparing it inlines those three SQL
-- functions, which means parsing and analysing their bodies: measured at ~45 us per INSERT, two thirds
-- of a server-side write. The same value spelled with built-ins costs about a quarter of that. It must stay equal
-- to message_store.hash_64(message_store.cardinal_id(stream_name)) -- the conformance tests check it:
--   no '-'  -> NULL (no id, so no consumer-group member: Message DB's quirk);
--   else    -> hash_64 of the id (text after the first '-') up to its first '+'.
--
-- PostgreSQL 15 cannot change a generation expression in place, so the column is dropped and added
-- again (one table rewrite; the store had not shipped when this was written). The read functions name
-- the column only in their bodies, which are resolved at run time, so they need no change.

ALTER TABLE message_store.messages DROP COLUMN IF EXISTS cardinal_id_hash;

ALTER TABLE message_store.messages
    ADD COLUMN cardinal_id_hash bigint GENERATED ALWAYS AS (
        CASE WHEN strpos(stream_name, '-') > 0 THEN
            ('x' || left(md5(split_part(substr(stream_name, strpos(stream_name, '-') + 1), '+', 1)), 16))::bit(64)::bigint
        END
    ) STORED;

-- 2. write_messages: a batch to one stream as one multi-row INSERT.

-- +goose StatementBegin
-- write_messages(stream_name, ids, types, data, metadata, expected_version): appends a batch of messages
-- to ONE stream in one statement and returns the position of the last one (the stream's version after
-- the write; for an empty batch, the current version or -1). Not part of Message DB.
--
-- Same semantics as calling write_message once per element inside one transaction, the expected
-- version applying to the first: the same category lock, the same 'Wrong expected version: ...' P0001
-- error (checked before any id is cast), positions version+1 .. version+n in array order, and
-- global_position increasing in array order too. The element errors are write_message's: 22P02 for a
-- malformed id, 23505 on messages_id for a duplicate, 23502 for a NULL id or type. metadata may be
-- NULL (every message without metadata); otherwise every array must have the same length, else 22023.
-- Why: one multi-row INSERT instead of n statements costs a fraction per message (docs/BENCHMARKS.md).
CREATE OR REPLACE FUNCTION message_store.write_messages(
    stream_name varchar,
    ids varchar[],
    types varchar[],
    data jsonb[],
    metadata jsonb[] DEFAULT NULL,
    expected_version bigint DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _count integer := coalesce(cardinality(write_messages.ids), 0);
    _stream_version bigint;
BEGIN
    IF coalesce(cardinality(write_messages.types), 0) <> _count
        OR coalesce(cardinality(write_messages.data), 0) <> _count
        OR (write_messages.metadata IS NOT NULL AND cardinality(write_messages.metadata) <> _count) THEN
        RAISE EXCEPTION 'write_messages: ids, types, data and metadata must have the same length (ids: %, types: %, data: %, metadata: %)',
            _count, cardinality(write_messages.types), cardinality(write_messages.data), cardinality(write_messages.metadata)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    PERFORM pg_advisory_xact_lock(message_store.hash_64(message_store.category(write_messages.stream_name)));

    SELECT coalesce(max(m.position), -1) INTO _stream_version
    FROM message_store.messages AS m
    WHERE m.stream_name = write_messages.stream_name;

    IF write_messages.expected_version IS NOT NULL
        AND write_messages.expected_version <> _stream_version THEN
        RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)',
            write_messages.expected_version, write_messages.stream_name, _stream_version;
    END IF;

    -- ORDER BY the ordinality: rows reach the INSERT, and draw their global_position, in array order.
    INSERT INTO message_store.messages (id, stream_name, position, type, data, metadata)
    SELECT uuid(b.id), write_messages.stream_name, _stream_version + b.n, b.type, b.data, b.metadata
    FROM unnest(write_messages.ids, write_messages.types, write_messages.data, write_messages.metadata)
         WITH ORDINALITY AS b(id, type, data, metadata, n)
    ORDER BY b.n;

    IF current_setting('message_store.debug_write', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» write_messages';
        RAISE NOTICE 'stream_name: %', write_messages.stream_name;
        RAISE NOTICE 'count: %', _count;
        RAISE NOTICE 'expected_version: %', write_messages.expected_version;
        RAISE NOTICE '_stream_version: %', _stream_version;
    END IF;

    RETURN _stream_version + _count;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'message_store') THEN
        GRANT EXECUTE ON FUNCTION message_store.write_messages(varchar, varchar[], varchar[], jsonb[], jsonb[], bigint)
            TO message_store;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Deliberately empty (see 00001): the old and new hash expressions compute the same values, and
-- write_messages is an addition nobody is forced to use.
SELECT 1;
