-- +goose Up
--
-- The message store: a PostgreSQL schema that behaves like Message DB 1.3.0, so that any Message DB
-- client can read and write it (contract: MESSAGE_STORE.md). Written from the contract, not copied.
--
-- Where we deliberately differ from Message DB (all allowed by MESSAGE_STORE.md section 12):
--   * Every name inside every function body is schema-qualified, so the functions work whatever the
--     caller's search_path (Message DB issues #24, #42, #49). The price: swapping acquire_lock through
--     search_path is not supported; our own write lock is fixed (same key as Message DB, see below).
--   * The pure stream-name helpers are LANGUAGE sql IMMUTABLE single expressions with no SET clause, so
--     the planner inlines them: the category expression index stays usable and no function call runs
--     per row.
--   * The common read paths are static SQL (plans cached by PL/pgSQL); only a call with a `condition`
--     builds dynamic SQL.
--   * Consumer groups filter on a stored generated column holding hash_64(cardinal_id(stream_name)),
--     computed once at write time instead of an md5 per row per read. Results are identical.
--   * Extra column transaction_id (xid8) with an index on (transaction_id, global_position) serves a
--     gap-free store-wide reader (get_all_messages).
--   * No pgcrypto: gen_random_uuid() is built in since PostgreSQL 13.
--   * No triggers and no NOTIFY here: the Go writer notifies, keeping the write path lean.
--
-- The whole file is idempotent (IF NOT EXISTS / OR REPLACE / guarded DO blocks) so it can also adopt a
-- database where Message DB's own installer already created the schema.

-- The cluster-wide role of Message DB clients (LOGIN, no password, as Message DB's installer makes it).
-- Tolerates an existing role and a migrating user that may not create roles: the schema still works,
-- only the grants to message_store are skipped (see below).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'message_store') THEN
        BEGIN
            CREATE ROLE message_store WITH LOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                -- Created concurrently by someone else (another database of the cluster migrating at the
                -- same moment: the role is cluster-wide, the migration lock is per database): fine.
                -- The loser of that race sees unique_violation on pg_authid, not duplicate_object.
                NULL;
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'message_store: role message_store not created (no CREATEROLE privilege)';
        END;
    END IF;
END
$$;
-- +goose StatementEnd

CREATE SCHEMA IF NOT EXISTS message_store;

-- The messages. The first eight columns are Message DB's, in its physical order, with its types,
-- defaults and nullability: clients (Practical Microservices' $all reader) query the table directly.
CREATE TABLE IF NOT EXISTS message_store.messages (
    global_position bigserial NOT NULL,
    position bigint NOT NULL,
    time timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc') NOT NULL,
    stream_name text NOT NULL,
    type text NOT NULL,
    data jsonb,
    metadata jsonb,
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    CONSTRAINT messages_pkey PRIMARY KEY (global_position)
);

-- +goose StatementBegin
-- category(stream_name): everything before the first '-'; a name without '-' is its own category.
-- NULL -> NULL, '' -> '', '-x' -> ''. Pure and inlinable: must stay a single SQL expression.
CREATE OR REPLACE FUNCTION message_store.category(stream_name varchar)
RETURNS varchar
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT split_part(stream_name, '-', 1)::varchar
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- id(stream_name): everything after the first '-', or NULL when there is none.
-- 'a-b-c' -> 'b-c', 'a-' -> '' (empty, not NULL), 'a' -> NULL, NULL -> NULL.
CREATE OR REPLACE FUNCTION message_store.id(stream_name varchar)
RETURNS varchar
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN strpos(stream_name, '-') > 0
                THEN substr(stream_name, strpos(stream_name, '-') + 1)
           END::varchar
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- cardinal_id(stream_name): the id up to its first '+', or NULL when the name has no id.
-- 'cat-1+2+3' -> '1', 'cat-+2' -> '', 'cat' -> NULL. Consumer groups partition by this value.
CREATE OR REPLACE FUNCTION message_store.cardinal_id(stream_name varchar)
RETURNS varchar
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT split_part(message_store.id(stream_name), '+', 1)::varchar
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- is_category(stream_name): true when the name contains no '-'. '' -> true, and NULL -> true
-- (Message DB's quirk, kept: a NULL category passes the category check and matches no rows).
CREATE OR REPLACE FUNCTION message_store.is_category(stream_name varchar)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT strpos(coalesce(stream_name, ''), '-') = 0
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- hash_64(value): the first 16 hex digits of md5(value) read as a two's-complement signed bigint.
-- Must stay bit-identical to Message DB: it keys the category write lock (other Message DB writers on
-- the same database must serialise with ours) and assigns consumer-group members. NULL -> NULL.
CREATE OR REPLACE FUNCTION message_store.hash_64(value varchar)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ('x' || left(md5(value), 16))::bit(64)::bigint
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- message_store_version(): the Message DB version whose interface this schema implements.
CREATE OR REPLACE FUNCTION message_store.message_store_version()
RETURNS varchar
LANGUAGE sql VOLATILE
AS $$
    SELECT '1.3.0'::varchar
$$;
-- +goose StatementEnd

-- Store-wide reader support: the writing transaction's full (epoch-extended, never wrapping) id. A
-- row whose transaction_id is below the xmin of a current snapshot can no longer appear or vanish, so a
-- reader ordered by (transaction_id, global_position) that stops at that horizon never skips a message,
-- whatever the categories and commit order (unlike global_position alone, which has in-flight gaps).
-- ADD COLUMN rather than in CREATE TABLE so that an existing Message DB table is upgraded in place.
ALTER TABLE message_store.messages
    ADD COLUMN IF NOT EXISTS transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id();

-- Consumer-group hash, computed once per write instead of one md5 per candidate row per read.
-- NULL for streams without an id, which therefore belong to no consumer-group member (as in Message DB).
ALTER TABLE message_store.messages
    ADD COLUMN IF NOT EXISTS cardinal_id_hash bigint
        GENERATED ALWAYS AS (message_store.hash_64(message_store.cardinal_id(stream_name))) STORED;

-- Idempotency: a message id can be written once. The name is part of the 23505 error text.
CREATE UNIQUE INDEX IF NOT EXISTS messages_id ON message_store.messages (id);

-- Gapless unique positions per stream; stream reads, stream_version and the last message.
CREATE UNIQUE INDEX IF NOT EXISTS messages_stream ON message_store.messages (stream_name, position);

-- Category reads: equality on the category and a range on global_position, already in order, so LIMIT
-- stops early. The third key (correlation category) lets a correlated read reject rows from the index
-- entry without visiting the heap. The expressions must be written exactly like this in queries.
CREATE INDEX IF NOT EXISTS messages_category ON message_store.messages (
    message_store.category(stream_name),
    global_position,
    message_store.category(metadata->>'correlationStreamName')
);

-- The store-wide reader's order (see get_all_messages). Appends on the right edge: cheap to maintain.
CREATE INDEX IF NOT EXISTS messages_transaction ON message_store.messages (transaction_id, global_position);

-- The row type of every read function: Message DB's eight columns, in its order, with its types
-- (text as varchar, jsonb as varchar text, so clients JSON-parse the strings themselves).
-- +goose StatementBegin
DO $$
BEGIN
    IF to_regtype('message_store.message') IS NULL THEN
        CREATE TYPE message_store.message AS (
            id varchar,
            stream_name varchar,
            type varchar,
            position bigint,
            global_position bigint,
            data varchar,
            metadata varchar,
            time timestamp
        );
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- acquire_lock(stream_name): takes the transaction-level advisory lock of the stream's CATEGORY, keyed
-- by hash_64(category(stream_name)), and returns the key. Held until commit or rollback. Because
-- global_position is drawn while the lock is held, the rows of one category become visible in
-- global_position order, so a category reader resuming after its last position never skips a message.
-- The key must stay exactly this: Message DB writers on the same database take the same lock.
CREATE OR REPLACE FUNCTION message_store.acquire_lock(stream_name varchar)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _category varchar := message_store.category(acquire_lock.stream_name);
    _key bigint := message_store.hash_64(_category);
BEGIN
    PERFORM pg_advisory_xact_lock(_key);
    IF current_setting('message_store.debug_write', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» acquire_lock';
        RAISE NOTICE 'stream_name: %', acquire_lock.stream_name;
        RAISE NOTICE 'category: %', _category;
        RAISE NOTICE 'category_name_hash: %', _key;
    END IF;
    RETURN _key;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- stream_version(stream_name): the highest position written to exactly this stream name, or NULL when
-- there is none (clients map NULL to -1). No name validation. A backward scan of one messages_stream key.
CREATE OR REPLACE FUNCTION message_store.stream_version(stream_name varchar)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN (
        SELECT max(m.position)
        FROM message_store.messages AS m
        WHERE m.stream_name = stream_version.stream_name
    );
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- write_message(...): appends one message to a stream and returns its position (0 for the first).
--   1. takes the category lock (the same key as acquire_lock; inlined here to save a function call);
--   2. reads the stream version (-1 when empty) -- after the lock, with a fresh snapshot, so it sees
--      every message committed by the previous holder;
--   3. if expected_version is not NULL and differs: P0001
--      'Wrong expected version: <ev> (Stream: <stream_name>, Stream Version: <v>)';
--   4. inserts at version + 1 (uuid(id) raises 22P02 for a malformed id; a duplicate id raises 23505 on
--      messages_id; NULL id, stream_name or type raise 23502).
-- Several calls in one transaction chain (the lock is re-entrant, the version sees the own rows).
-- Must run in READ COMMITTED (the default): under REPEATABLE READ step 2 would not see rows committed
-- after the transaction's snapshot and a racing writer would get 23505 instead of the version error.
CREATE OR REPLACE FUNCTION message_store.write_message(
    id varchar,
    stream_name varchar,
    "type" varchar,
    data jsonb,
    metadata jsonb DEFAULT NULL,
    expected_version bigint DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _stream_version bigint;
    _position bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(message_store.hash_64(message_store.category(write_message.stream_name)));

    SELECT coalesce(max(m.position), -1) INTO _stream_version
    FROM message_store.messages AS m
    WHERE m.stream_name = write_message.stream_name;

    IF write_message.expected_version IS NOT NULL
        AND write_message.expected_version <> _stream_version THEN
        RAISE EXCEPTION 'Wrong expected version: % (Stream: %, Stream Version: %)',
            write_message.expected_version, write_message.stream_name, _stream_version;
    END IF;

    _position := _stream_version + 1;

    INSERT INTO message_store.messages (id, stream_name, position, type, data, metadata)
    VALUES (uuid(write_message.id), write_message.stream_name, _position, write_message.type,
            write_message.data, write_message.metadata);

    IF current_setting('message_store.debug_write', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» write_message';
        RAISE NOTICE 'id: %', write_message.id;
        RAISE NOTICE 'stream_name: %', write_message.stream_name;
        RAISE NOTICE 'type: %', write_message.type;
        RAISE NOTICE 'data: %', write_message.data;
        RAISE NOTICE 'metadata: %', write_message.metadata;
        RAISE NOTICE 'expected_version: %', write_message.expected_version;
        RAISE NOTICE '_stream_version: %', _stream_version;
        RAISE NOTICE '_next_position: %', _position;
    END IF;

    RETURN _position;
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
CREATE OR REPLACE FUNCTION message_store.get_stream_messages(
    stream_name varchar,
    "position" bigint DEFAULT 0,
    batch_size bigint DEFAULT 1000,
    condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _position bigint;
    _limit bigint;
BEGIN
    IF message_store.is_category(get_stream_messages.stream_name) THEN
        RAISE EXCEPTION 'Must be a stream name: %', get_stream_messages.stream_name;
    END IF;

    _position := coalesce(get_stream_messages.position, 0);
    -- LIMIT NULL means no limit; a negative LIMIT raises 2201W itself, exactly like Message DB.
    _limit := nullif(coalesce(get_stream_messages.batch_size, 1000), -1);

    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_stream_messages';
        RAISE NOTICE 'stream_name: %', get_stream_messages.stream_name;
        RAISE NOTICE 'position: %', _position;
        RAISE NOTICE 'batch_size: %', coalesce(get_stream_messages.batch_size, 1000);
        RAISE NOTICE 'condition: %', get_stream_messages.condition;
    END IF;

    IF get_stream_messages.condition IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE m.stream_name = get_stream_messages.stream_name
              AND m.position >= _position
            ORDER BY m.position
            LIMIT _limit;
        RETURN;
    END IF;

    IF current_setting('message_store.sql_condition', true) IS NULL
        OR current_setting('message_store.sql_condition', true) = 'off' THEN
        RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
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
         LIMIT $3', get_stream_messages.condition)
        USING get_stream_messages.stream_name, _position, _limit;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- get_category_messages(...): the messages of every stream whose category() is `category`, from
-- global `position` on (inclusive; NULL -> 1), in global_position order, at most batch_size (NULL ->
-- 1000; -1 = unlimited; 0 = none; below -1 raises 2201W). Optional filters, combined with AND before the
-- limit: correlation (category of metadata->>'correlationStreamName' equals it), consumer group
-- (mod(abs(hash_64(cardinal_id(stream_name))), size) = member, read from the stored cardinal_id_hash),
-- condition (as in get_stream_messages).
-- Validation order and texts (all P0001): 'Must be a category: <c>' (NULL passes and matches nothing);
-- 'Correlation must be a category (Correlation: <c>)'; 'Consumer group member and size must be
-- specified (...)'; size < 1; member < 0; member >= size; the condition switch. Then a size above
-- 32767 raises 22003 'smallint out of range' (Message DB casts it to smallint).
CREATE OR REPLACE FUNCTION message_store.get_category_messages(
    category varchar,
    "position" bigint DEFAULT 1,
    batch_size bigint DEFAULT 1000,
    correlation varchar DEFAULT NULL,
    consumer_group_member bigint DEFAULT NULL,
    consumer_group_size bigint DEFAULT NULL,
    condition varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _position bigint;
    _limit bigint;
    _member bigint := get_category_messages.consumer_group_member;
    _size smallint;
BEGIN
    IF NOT message_store.is_category(get_category_messages.category) THEN
        RAISE EXCEPTION 'Must be a category: %', get_category_messages.category;
    END IF;

    _position := coalesce(get_category_messages.position, 1);
    _limit := nullif(coalesce(get_category_messages.batch_size, 1000), -1);

    IF get_category_messages.correlation IS NOT NULL
        AND NOT message_store.is_category(get_category_messages.correlation) THEN
        RAISE EXCEPTION 'Correlation must be a category (Correlation: %)', get_category_messages.correlation;
    END IF;

    IF (get_category_messages.consumer_group_member IS NULL) <> (get_category_messages.consumer_group_size IS NULL) THEN
        RAISE EXCEPTION 'Consumer group member and size must be specified (Consumer Group Member: %, Consumer Group Size: %)',
            get_category_messages.consumer_group_member, get_category_messages.consumer_group_size;
    END IF;

    IF get_category_messages.consumer_group_member IS NOT NULL THEN
        IF get_category_messages.consumer_group_size < 1 THEN
            RAISE EXCEPTION 'Consumer group size must not be less than 1 (Consumer Group Member: %, Consumer Group Size: %)',
                get_category_messages.consumer_group_member, get_category_messages.consumer_group_size;
        END IF;
        IF get_category_messages.consumer_group_member < 0 THEN
            RAISE EXCEPTION 'Consumer group member must not be less than 0 (Consumer Group Member: %, Consumer Group Size: %)',
                get_category_messages.consumer_group_member, get_category_messages.consumer_group_size;
        END IF;
        IF get_category_messages.consumer_group_member >= get_category_messages.consumer_group_size THEN
            RAISE EXCEPTION 'Consumer group member must be less than the group size (Consumer Group Member: %, Consumer Group Size: %)',
                get_category_messages.consumer_group_member, get_category_messages.consumer_group_size;
        END IF;
    END IF;

    IF get_category_messages.condition IS NOT NULL
        AND (current_setting('message_store.sql_condition', true) IS NULL
             OR current_setting('message_store.sql_condition', true) = 'off') THEN
        RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
    END IF;

    -- Message DB casts the size to smallint when it runs the query: same error, same place.
    _size := get_category_messages.consumer_group_size::smallint;

    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_category_messages';
        RAISE NOTICE 'category: %', get_category_messages.category;
        RAISE NOTICE 'position: %', _position;
        RAISE NOTICE 'batch_size: %', coalesce(get_category_messages.batch_size, 1000);
        RAISE NOTICE 'correlation: %', get_category_messages.correlation;
        RAISE NOTICE 'consumer_group_member: %', _member;
        RAISE NOTICE 'consumer_group_size: %', _size;
        RAISE NOTICE 'condition: %', get_category_messages.condition;
    END IF;

    IF get_category_messages.condition IS NOT NULL THEN
        -- The only dynamic path. Unaliased table so the condition can say messages.<column>.
        RETURN QUERY EXECUTE format(
            'SELECT messages.id::varchar, messages.stream_name::varchar, messages.type::varchar,
                    messages.position, messages.global_position, messages.data::varchar,
                    messages.metadata::varchar, messages.time
             FROM message_store.messages
             WHERE message_store.category(messages.stream_name) = $1
               AND messages.global_position >= $2
               AND ($4::varchar IS NULL
                    OR message_store.category(messages.metadata->>''correlationStreamName'') = $4)
               AND ($5::bigint IS NULL OR mod(abs(messages.cardinal_id_hash), $6) = $5)
               AND (%s)
             ORDER BY messages.global_position
             LIMIT $3', get_category_messages.condition)
            USING get_category_messages.category, _position, _limit,
                  get_category_messages.correlation, _member, _size;
        RETURN;
    END IF;

    -- Static paths, one per filter combination, so that each keeps a simple cached plan.
    --
    -- The category equality is spelled as a closed range, and the order as (category, global_position),
    -- on purpose. PL/pgSQL soon switches to a generic plan, which cannot see the category's frequency;
    -- with a plain `=` the planner folds the category out of the ORDER BY and then often prefers walking
    -- messages_pkey in global_position order while filtering on the category -- a scan of the whole
    -- store for a rare category. Written this way only messages_category yields the requested order, so
    -- every plan is an ordered range scan of that index that stops at the category's end and at LIMIT.
    -- (Deterministic collations, the only kind a database default can be, make the range an equality.)
    IF get_category_messages.correlation IS NULL AND _member IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) >= get_category_messages.category
              AND message_store.category(m.stream_name) <= get_category_messages.category
              AND m.global_position >= _position
            ORDER BY message_store.category(m.stream_name), m.global_position
            LIMIT _limit;
    ELSIF _member IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) >= get_category_messages.category
              AND message_store.category(m.stream_name) <= get_category_messages.category
              AND m.global_position >= _position
              AND message_store.category(m.metadata->>'correlationStreamName') = get_category_messages.correlation
            ORDER BY message_store.category(m.stream_name), m.global_position
            LIMIT _limit;
    ELSIF get_category_messages.correlation IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) >= get_category_messages.category
              AND message_store.category(m.stream_name) <= get_category_messages.category
              AND m.global_position >= _position
              AND mod(abs(m.cardinal_id_hash), _size) = _member
            ORDER BY message_store.category(m.stream_name), m.global_position
            LIMIT _limit;
    ELSE
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) >= get_category_messages.category
              AND message_store.category(m.stream_name) <= get_category_messages.category
              AND m.global_position >= _position
              AND message_store.category(m.metadata->>'correlationStreamName') = get_category_messages.correlation
              AND mod(abs(m.cardinal_id_hash), _size) = _member
            ORDER BY message_store.category(m.stream_name), m.global_position
            LIMIT _limit;
    END IF;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- get_last_stream_message(stream_name, type): zero or one row, the highest-position message of exactly
-- this stream name, or with a type, the highest-position message of that type. No name validation.
CREATE OR REPLACE FUNCTION message_store.get_last_stream_message(
    stream_name varchar,
    "type" varchar DEFAULT NULL
)
RETURNS SETOF message_store.message
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_last_stream_message';
        RAISE NOTICE 'stream_name: %', get_last_stream_message.stream_name;
        RAISE NOTICE 'type: %', get_last_stream_message.type;
    END IF;

    IF get_last_stream_message.type IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE m.stream_name = get_last_stream_message.stream_name
            ORDER BY m.position DESC
            LIMIT 1;
    ELSE
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE m.stream_name = get_last_stream_message.stream_name
              AND m.type = get_last_stream_message.type
            ORDER BY m.position DESC
            LIMIT 1;
    END IF;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- get_all_messages(after_transaction_id, after_global_position, batch_size): the gap-free store-wide
-- ($all) reader. Not part of Message DB.
--
-- Returns messages strictly after the pair (after_transaction_id, after_global_position) in
-- (transaction_id, global_position) order, but only those written by transactions below the xmin of
-- the current snapshot: every such transaction has ended, so no message can later appear before that
-- horizon. A reader that resumes from the (transaction_id, global_position) of the last row it got
-- therefore never skips a message, even when writers in different categories commit out of order
-- (which a reader resuming by global_position alone can). The price is latency: a message shows up
-- only once every transaction older than its own (in the whole cluster, any database) has ended, so a
-- long-running transaction holds the reader back.
-- Start with (0, 0). batch_size: NULL -> 1000, -1 unlimited, 0 none, below -1 raises 2201W.
-- The row is the message row type plus the transaction_id to resume from.
CREATE OR REPLACE FUNCTION message_store.get_all_messages(
    after_transaction_id xid8 DEFAULT '0',
    after_global_position bigint DEFAULT 0,
    batch_size bigint DEFAULT 1000
)
RETURNS TABLE (
    id varchar,
    stream_name varchar,
    type varchar,
    "position" bigint,
    global_position bigint,
    data varchar,
    metadata varchar,
    "time" timestamp,
    transaction_id xid8
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _after_transaction_id xid8 := coalesce(get_all_messages.after_transaction_id, '0'::xid8);
    _after_global_position bigint := coalesce(get_all_messages.after_global_position, 0);
    _limit bigint := nullif(coalesce(get_all_messages.batch_size, 1000), -1);
BEGIN
    RETURN QUERY
        SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
               m.global_position, m.data::varchar, m.metadata::varchar, m.time, m.transaction_id
        FROM message_store.messages AS m
        WHERE (m.transaction_id, m.global_position) > (_after_transaction_id, _after_global_position)
          AND m.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY m.transaction_id, m.global_position
        LIMIT _limit;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION message_store.get_all_messages(xid8, bigint, bigint) IS
    'Gap-free store-wide reader: messages after (transaction_id, global_position), in that order, from ended transactions only (below the current snapshot xmin). Resume from the last row''s pair; start with (0, 0).';

-- Reports: each a full-table aggregate, percent = round(count / total * 100, 2).
CREATE OR REPLACE VIEW message_store.stream_summary AS
    SELECT s.stream_name,
           s.message_count,
           round(s.message_count / t.total_count::decimal * 100, 2) AS percent
    FROM (SELECT m.stream_name, count(m.id) AS message_count
          FROM message_store.messages AS m
          GROUP BY m.stream_name) AS s,
         (SELECT count(m.id) AS total_count FROM message_store.messages AS m) AS t
    ORDER BY s.stream_name;

CREATE OR REPLACE VIEW message_store.type_summary AS
    SELECT s.type,
           s.message_count,
           round(s.message_count / t.total_count::decimal * 100, 2) AS percent
    FROM (SELECT m.type, count(m.id) AS message_count
          FROM message_store.messages AS m
          GROUP BY m.type) AS s,
         (SELECT count(m.id) AS total_count FROM message_store.messages AS m) AS t
    ORDER BY s.type;

CREATE OR REPLACE VIEW message_store.stream_type_summary AS
    SELECT s.stream_name,
           s.type,
           s.message_count,
           round(s.message_count / t.total_count::decimal * 100, 2) AS percent
    FROM (SELECT m.stream_name, m.type, count(m.id) AS message_count
          FROM message_store.messages AS m
          GROUP BY m.stream_name, m.type) AS s,
         (SELECT count(m.id) AS total_count FROM message_store.messages AS m) AS t
    ORDER BY s.stream_name, s.type;

CREATE OR REPLACE VIEW message_store.type_stream_summary AS
    SELECT s.type,
           s.stream_name,
           s.message_count,
           round(s.message_count / t.total_count::decimal * 100, 2) AS percent
    FROM (SELECT m.type, m.stream_name, count(m.id) AS message_count
          FROM message_store.messages AS m
          GROUP BY m.type, m.stream_name) AS s,
         (SELECT count(m.id) AS total_count FROM message_store.messages AS m) AS t
    ORDER BY s.type, s.stream_name;

CREATE OR REPLACE VIEW message_store.category_type_summary AS
    SELECT s.category,
           s.type,
           s.message_count,
           round(s.message_count / t.total_count::decimal * 100, 2) AS percent
    FROM (SELECT message_store.category(m.stream_name) AS category, m.type, count(m.id) AS message_count
          FROM message_store.messages AS m
          GROUP BY 1, m.type) AS s,
         (SELECT count(m.id) AS total_count FROM message_store.messages AS m) AS t
    ORDER BY s.category, s.type;

CREATE OR REPLACE VIEW message_store.type_category_summary AS
    SELECT s.type,
           s.category,
           s.message_count,
           round(s.message_count / t.total_count::decimal * 100, 2) AS percent
    FROM (SELECT m.type, message_store.category(m.stream_name) AS category, count(m.id) AS message_count
          FROM message_store.messages AS m
          GROUP BY m.type, 2) AS s,
         (SELECT count(m.id) AS total_count FROM message_store.messages AS m) AS t
    ORDER BY s.type, s.category;

-- Privileges of the message_store role (and of every role granted it): append-only use of the store.
-- No UPDATE or DELETE on messages. Skipped with a notice if the role could not be created. The grant on
-- the built-in gen_random_uuid() may be refused to a non-superuser migrator; it is granted to PUBLIC
-- anyway, so that is only noted.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'message_store') THEN
        RAISE NOTICE 'message_store: role message_store missing, privileges not granted';
        RETURN;
    END IF;
    GRANT USAGE ON SCHEMA message_store TO message_store;
    GRANT SELECT, INSERT ON message_store.messages TO message_store;
    GRANT USAGE, SELECT ON SEQUENCE message_store.messages_global_position_seq TO message_store;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA message_store TO message_store;
    GRANT SELECT ON message_store.stream_summary, message_store.type_summary,
        message_store.stream_type_summary, message_store.type_stream_summary,
        message_store.category_type_summary, message_store.type_category_summary TO message_store;
    BEGIN
        GRANT EXECUTE ON FUNCTION pg_catalog.gen_random_uuid() TO message_store;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'message_store: EXECUTE on gen_random_uuid() not granted (it is granted to PUBLIC)';
    END;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Deliberately empty: the message store is the system of record, and a Down that drops it would erase
-- every message. Removing it is a manual decision: DROP SCHEMA message_store CASCADE.
SELECT 1;
