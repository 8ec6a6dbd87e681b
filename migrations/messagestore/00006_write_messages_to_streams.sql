-- +goose Up
--
-- write_messages_to_streams: one call that appends messages to many streams.
--
-- Why: the Go store combines concurrent writes without an expected version to one category into one
-- transaction (messagestore/combine.go: group commit for hot categories such as viewing-*). Through
-- write_message that transaction still costs, per message, a PL/pgSQL call, a lock call, a version
-- lookup and a single-row INSERT, and those per-message costs are what limit a hot category once the
-- lock hand-overs are gone. This function does the whole combined batch as one lock per category, one
-- version lookup per stream and one multi-row INSERT (docs/BENCHMARKS.md, "Hot category").
--
-- Not part of Message DB; nothing in the Message DB interface changes.

-- +goose StatementBegin
-- write_messages_to_streams(ids, stream_names, types, data, metadata): appends message i to stream
-- stream_names[i] for every i, and returns the positions the messages got, in array order.
--
-- Same result as calling write_message(ids[i], stream_names[i], types[i], data[i], metadata[i]) for
-- i = 1..n inside one transaction:
--   * the category locks (the same key as acquire_lock) are taken once per category, in the order of
--     each category's first message -- the order the sequential calls would take them in, so a caller
--     gets no lock ordering that the sequential calls would not have given it;
--   * each stream's version is read after the locks (a fresh snapshot: it sees every message committed
--     by the previous lock holder), and the messages of one stream get version+1, version+2, ... in
--     array order;
--   * global_position increases in array order;
--   * the element errors are write_message's: 22P02 for a malformed id, 23505 on messages_id for a
--     duplicate (also within the batch), 23502 for a NULL id, stream_name or type. Any error writes
--     nothing.
-- There is no expected version: the writes this is for do not depend on a stream's version (use
-- write_message or write_messages for that). metadata may be NULL (no message has metadata); otherwise
-- every array must have the same length, else 22023. An empty batch writes nothing and returns '{}'.
-- Must run in READ COMMITTED (the default), for the reason given at write_message.
CREATE OR REPLACE FUNCTION message_store.write_messages_to_streams(
    ids varchar[],
    stream_names varchar[],
    types varchar[],
    data jsonb[],
    metadata jsonb[] DEFAULT NULL
)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _count integer := coalesce(cardinality(write_messages_to_streams.ids), 0);
    _positions bigint[];
BEGIN
    IF coalesce(cardinality(write_messages_to_streams.stream_names), 0) <> _count
        OR coalesce(cardinality(write_messages_to_streams.types), 0) <> _count
        OR coalesce(cardinality(write_messages_to_streams.data), 0) <> _count
        OR (write_messages_to_streams.metadata IS NOT NULL
            AND cardinality(write_messages_to_streams.metadata) <> _count) THEN
        RAISE EXCEPTION 'write_messages_to_streams: ids, stream_names, types, data and metadata must have the same length (ids: %, stream_names: %, types: %, data: %, metadata: %)',
            _count, cardinality(write_messages_to_streams.stream_names), cardinality(write_messages_to_streams.types),
            cardinality(write_messages_to_streams.data), cardinality(write_messages_to_streams.metadata)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF _count = 0 THEN
        RETURN '{}'::bigint[];
    END IF;

    -- One lock per category, in first-appearance order. The lock calls are in the select list, which
    -- PostgreSQL evaluates after the sort because pg_advisory_xact_lock is volatile. A NULL stream name
    -- has no category and takes no lock; its INSERT below fails with 23502.
    PERFORM pg_advisory_xact_lock(message_store.hash_64(c.category))
    FROM (
        SELECT message_store.category(s.stream_name) AS category, min(s.n) AS first
        FROM unnest(write_messages_to_streams.stream_names) WITH ORDINALITY AS s(stream_name, n)
        WHERE s.stream_name IS NOT NULL
        GROUP BY 1
    ) AS c
    ORDER BY c.first;

    -- A new statement, so a new snapshot: the versions include everything committed before the locks
    -- were granted. "positioned" is referenced twice, so it is computed once (materialised), and the
    -- data-modifying CTE runs to completion although the outer query does not read it.
    WITH batch AS (
        SELECT b.id, b.stream_name, b.type, b.data, b.metadata, b.n,
               row_number() OVER (PARTITION BY b.stream_name ORDER BY b.n) AS k
        FROM unnest(write_messages_to_streams.ids, write_messages_to_streams.stream_names,
                    write_messages_to_streams.types, write_messages_to_streams.data,
                    write_messages_to_streams.metadata)
             WITH ORDINALITY AS b(id, stream_name, type, data, metadata, n)
    ),
    versions AS (
        SELECT s.stream_name,
               (SELECT coalesce(max(m.position), -1)
                FROM message_store.messages AS m
                WHERE m.stream_name = s.stream_name) AS version
        FROM (SELECT DISTINCT batch.stream_name FROM batch WHERE batch.stream_name IS NOT NULL) AS s
    ),
    positioned AS (
        -- A NULL stream name gets position k - 1 (like an empty stream) so that the INSERT's error
        -- names stream_name, as write_message's does.
        SELECT batch.*, coalesce(versions.version, -1) + batch.k AS position
        FROM batch LEFT JOIN versions ON versions.stream_name = batch.stream_name
    ),
    inserted AS (
        -- ORDER BY n: rows reach the INSERT, and draw their global_position, in array order.
        INSERT INTO message_store.messages (id, stream_name, position, type, data, metadata)
        SELECT uuid(p.id), p.stream_name, p.position, p.type, p.data, p.metadata
        FROM positioned AS p
        ORDER BY p.n
    )
    SELECT array_agg(p.position ORDER BY p.n) INTO _positions
    FROM positioned AS p;

    IF current_setting('message_store.debug_write', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» write_messages_to_streams';
        RAISE NOTICE 'count: %', _count;
        RAISE NOTICE 'stream_names: %', write_messages_to_streams.stream_names;
        RAISE NOTICE '_positions: %', _positions;
    END IF;

    RETURN _positions;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'message_store') THEN
        GRANT EXECUTE ON FUNCTION message_store.write_messages_to_streams(varchar[], varchar[], varchar[], jsonb[], jsonb[])
            TO message_store;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Deliberately empty (see 00001): write_messages_to_streams is an addition nobody is forced to use.
SELECT 1;
