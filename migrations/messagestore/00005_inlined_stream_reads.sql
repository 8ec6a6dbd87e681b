-- +goose Up
--
-- Stream reads inlined into the caller's query, as 00004 did for category reads (see its header for
-- the why and the how). get_stream_messages keeps its parameter names, defaults, row type, error texts,
-- SQLSTATEs and their order, its debug NOTICEs (which, unlike get_category_messages', come before the
-- condition-switch check) and the dynamic condition path:
--
--   * stream_read_limit(...) validates ('Must be a stream name: <name>', <NULL> for NULL), raises the
--     debug NOTICEs, then checks the condition switch, and returns the LIMIT. The inlined SELECT calls it
--     in its LIMIT clause: evaluated once, before the first row is fetched, also for batch_size 0.
--   * stream_read_plpgsql(...) is 00001's body (PL/pgSQL, every path); reads with a condition go
--     through it.
-- get_last_stream_message stays PL/pgSQL: it returns one row, so there is nothing to stream.

-- +goose StatementBegin
-- stream_read_limit(...): the checks and debug NOTICEs of get_stream_messages, in its order; returns the
-- LIMIT of the read (NULL = unlimited; below -1 is left to the executor's 2201W). Not part of Message DB.
CREATE OR REPLACE FUNCTION message_store.stream_read_limit(
    stream_name varchar,
    "position" bigint,
    batch_size bigint,
    condition varchar
)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF message_store.is_category(stream_read_limit.stream_name) THEN
        RAISE EXCEPTION 'Must be a stream name: %', stream_read_limit.stream_name;
    END IF;

    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_stream_messages';
        RAISE NOTICE 'stream_name: %', stream_read_limit.stream_name;
        RAISE NOTICE 'position: %', coalesce(stream_read_limit.position, 0);
        RAISE NOTICE 'batch_size: %', coalesce(stream_read_limit.batch_size, 1000);
        RAISE NOTICE 'condition: %', stream_read_limit.condition;
    END IF;

    IF stream_read_limit.condition IS NOT NULL
        AND (current_setting('message_store.sql_condition', true) IS NULL
             OR current_setting('message_store.sql_condition', true) = 'off') THEN
        RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
    END IF;

    RETURN nullif(coalesce(stream_read_limit.batch_size, 1000), -1);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- stream_read_plpgsql(...): get_stream_messages as 00001 defined it (PL/pgSQL, every path). The inlined
-- get_stream_messages hands it the reads with a condition. Not part of Message DB; same arguments,
-- results and errors as get_stream_messages.
CREATE OR REPLACE FUNCTION message_store.stream_read_plpgsql(
    stream_name varchar,
    "position" bigint DEFAULT 0,
    batch_size bigint DEFAULT 1000,
    condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _position bigint := coalesce(stream_read_plpgsql.position, 0);
    _limit bigint;
BEGIN
    _limit := message_store.stream_read_limit(stream_read_plpgsql.stream_name, stream_read_plpgsql.position,
        stream_read_plpgsql.batch_size, stream_read_plpgsql.condition);

    IF stream_read_plpgsql.condition IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE m.stream_name = stream_read_plpgsql.stream_name
              AND m.position >= _position
            ORDER BY m.position
            LIMIT _limit;
        RETURN;
    END IF;

    -- Unaliased table so the condition can say messages.<column> (and message_store.messages.<column>).
    RETURN QUERY EXECUTE format(
        'SELECT messages.id::varchar, messages.stream_name::varchar, messages.type::varchar,
                messages.position, messages.global_position, messages.data::varchar,
                messages.metadata::varchar, messages.time
         FROM message_store.messages
         WHERE messages.stream_name = $1
           AND messages.position >= $2
           AND (%s)
         ORDER BY messages.position
         LIMIT $3', stream_read_plpgsql.condition)
        USING stream_read_plpgsql.stream_name, _position, _limit;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- get_stream_messages(...): the messages of one stream (exact name) from `position` on (inclusive;
-- NULL -> 0), in position order, at most batch_size of them (NULL -> 1000; -1 = unlimited; 0 = none;
-- below -1 raises 2201W 'LIMIT must not be negative').
-- Errors: P0001 'Must be a stream name: <name>' when the name has no '-' (NULL prints <NULL>);
-- P0001 'Retrieval with SQL condition is not activated' when a condition is given and the setting
-- message_store.sql_condition is undefined or exactly 'off' (any other value, even '' or 'false',
-- activates it). The condition is pasted, parenthesised, into the WHERE clause (the caller's privileges
-- apply) and may reference messages.<column>.
--
-- One SELECT, inlined by the planner. Without a condition: a range scan of messages_stream, whose LIMIT
-- is stream_read_limit(...) (it validates first); with one, stream_read_plpgsql(...) (dynamic SQL), and
-- the first branch's LIMIT is 0 so that a generic plan, which keeps both, validates once.
CREATE OR REPLACE FUNCTION message_store.get_stream_messages(
    stream_name varchar,
    "position" bigint DEFAULT 0,
    batch_size bigint DEFAULT 1000,
    condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
LANGUAGE sql STABLE
AS $$
    (SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
            m.global_position, m.data::varchar, m.metadata::varchar, m.time
     FROM message_store.messages AS m
     WHERE get_stream_messages.condition IS NULL
       AND m.stream_name = get_stream_messages.stream_name
       AND m.position >= coalesce(get_stream_messages.position, 0)
     ORDER BY m.position
     LIMIT CASE WHEN get_stream_messages.condition IS NULL
                THEN message_store.stream_read_limit(get_stream_messages.stream_name,
                         get_stream_messages.position, get_stream_messages.batch_size,
                         get_stream_messages.condition)
                ELSE 0
           END)
    UNION ALL
    SELECT r.id, r.stream_name, r.type, r.position, r.global_position, r.data, r.metadata, r.time
    FROM message_store.stream_read_plpgsql(get_stream_messages.stream_name, get_stream_messages.position,
             get_stream_messages.batch_size, get_stream_messages.condition) AS r
    WHERE get_stream_messages.condition IS NOT NULL
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'message_store') THEN
        GRANT EXECUTE ON FUNCTION
            message_store.stream_read_limit(varchar, bigint, bigint, varchar),
            message_store.stream_read_plpgsql(varchar, bigint, bigint, varchar)
            TO message_store;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Deliberately empty (see 00001): the functions are equivalent in results and errors.
SELECT 1;
