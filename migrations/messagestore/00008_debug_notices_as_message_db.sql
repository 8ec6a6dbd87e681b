-- +goose Up
--
-- Debug NOTICEs as Message DB prints them.
--
-- Compared side by side with Message DB 1.3.0's own install (same statements, message_store.debug,
-- debug_write and debug_get on), every result, error and SQLSTATE agreed, but the debug output did not:
--
--   * write_message printed no acquire_lock block: 00001 takes the category lock inline to save a
--     function call, so the four acquire_lock NOTICEs Message DB prints first (also before a 'Wrong
--     expected version' error) were missing. It now goes through acquire_lock when debugging is on, and
--     still takes the same lock inline otherwise.
--   * the labels: Message DB numbers the arguments ('id ($1): ...', 'stream_name ($2): ...', ...,
--     'category ($1)', ..., 'consumer_group_size ($6)', but a plain 'condition:' for category reads),
--     prints acquire_lock's '_category' and '_category_name_hash', and heads get_last_stream_message's
--     block '» get_last_message'.
--   * get_stream_messages printed its NOTICEs and then raised 'Retrieval with SQL condition is not
--     activated'; Message DB checks the switch first and prints nothing (00005's header said otherwise).
--   * get_category_messages with a consumer_group_size above 32767 raised 22003 before its NOTICEs;
--     Message DB prints them (with the size as given) and then fails on the smallint cast.
--
-- Not reproduced: Message DB's last NOTICE of each read, 'Generated Command: <its dynamic SQL>'. Our
-- reads are static SQL with a different text, so there is no such command to print.
--
-- Only what happens under the debug settings changes; results, errors, SQLSTATEs, their order and the
-- lock are as before.

-- +goose StatementBegin
-- acquire_lock(stream_name): as in 00001; only the NOTICE labels change.
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
        RAISE NOTICE '_category: %', _category;
        RAISE NOTICE '_category_name_hash: %', _key;
    END IF;
    RETURN _key;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- write_message(...): as in 00001 (see there for the steps and the errors). Under debug_write or debug
-- the lock is taken through acquire_lock, which prints its NOTICEs at once, as Message DB's does; the
-- settings are read once per call, as many times as before.
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
    _debug boolean := current_setting('message_store.debug_write', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on';
    _stream_version bigint;
    _position bigint;
BEGIN
    IF _debug THEN
        PERFORM message_store.acquire_lock(write_message.stream_name);
    ELSE
        PERFORM pg_advisory_xact_lock(message_store.hash_64(message_store.category(write_message.stream_name)));
    END IF;

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

    IF _debug THEN
        RAISE NOTICE '» write_message';
        RAISE NOTICE 'id ($1): %', write_message.id;
        RAISE NOTICE 'stream_name ($2): %', write_message.stream_name;
        RAISE NOTICE 'type ($3): %', write_message.type;
        RAISE NOTICE 'data ($4): %', write_message.data;
        RAISE NOTICE 'metadata ($5): %', write_message.metadata;
        RAISE NOTICE 'expected_version ($6): %', write_message.expected_version;
        RAISE NOTICE '_stream_version: %', _stream_version;
        RAISE NOTICE '_next_position: %', _position;
    END IF;

    RETURN _position;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- stream_read_limit(...): as in 00005, except that the condition switch is checked before the debug
-- NOTICEs (a refused condition prints none) and the labels number the arguments.
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

    IF stream_read_limit.condition IS NOT NULL
        AND (current_setting('message_store.sql_condition', true) IS NULL
             OR current_setting('message_store.sql_condition', true) = 'off') THEN
        RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
    END IF;

    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_stream_messages';
        RAISE NOTICE 'stream_name ($1): %', stream_read_limit.stream_name;
        RAISE NOTICE 'position ($2): %', coalesce(stream_read_limit.position, 0);
        RAISE NOTICE 'batch_size ($3): %', coalesce(stream_read_limit.batch_size, 1000);
        RAISE NOTICE 'condition ($4): %', stream_read_limit.condition;
    END IF;

    RETURN nullif(coalesce(stream_read_limit.batch_size, 1000), -1);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- category_read_limit(...): as in 00004, except that the labels number the arguments and that the
-- smallint check of consumer_group_size comes after the debug NOTICEs, which print the size as given.
CREATE OR REPLACE FUNCTION message_store.category_read_limit(
    category varchar,
    "position" bigint,
    batch_size bigint,
    correlation varchar,
    consumer_group_member bigint,
    consumer_group_size bigint,
    condition varchar
)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    _size smallint;
BEGIN
    IF NOT message_store.is_category(category_read_limit.category) THEN
        RAISE EXCEPTION 'Must be a category: %', category_read_limit.category;
    END IF;

    IF category_read_limit.correlation IS NOT NULL
        AND NOT message_store.is_category(category_read_limit.correlation) THEN
        RAISE EXCEPTION 'Correlation must be a category (Correlation: %)', category_read_limit.correlation;
    END IF;

    IF (category_read_limit.consumer_group_member IS NULL) <> (category_read_limit.consumer_group_size IS NULL) THEN
        RAISE EXCEPTION 'Consumer group member and size must be specified (Consumer Group Member: %, Consumer Group Size: %)',
            category_read_limit.consumer_group_member, category_read_limit.consumer_group_size;
    END IF;

    IF category_read_limit.consumer_group_member IS NOT NULL THEN
        IF category_read_limit.consumer_group_size < 1 THEN
            RAISE EXCEPTION 'Consumer group size must not be less than 1 (Consumer Group Member: %, Consumer Group Size: %)',
                category_read_limit.consumer_group_member, category_read_limit.consumer_group_size;
        END IF;
        IF category_read_limit.consumer_group_member < 0 THEN
            RAISE EXCEPTION 'Consumer group member must not be less than 0 (Consumer Group Member: %, Consumer Group Size: %)',
                category_read_limit.consumer_group_member, category_read_limit.consumer_group_size;
        END IF;
        IF category_read_limit.consumer_group_member >= category_read_limit.consumer_group_size THEN
            RAISE EXCEPTION 'Consumer group member must be less than the group size (Consumer Group Member: %, Consumer Group Size: %)',
                category_read_limit.consumer_group_member, category_read_limit.consumer_group_size;
        END IF;
    END IF;

    IF category_read_limit.condition IS NOT NULL
        AND (current_setting('message_store.sql_condition', true) IS NULL
             OR current_setting('message_store.sql_condition', true) = 'off') THEN
        RAISE EXCEPTION 'Retrieval with SQL condition is not activated';
    END IF;

    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_category_messages';
        RAISE NOTICE 'category ($1): %', category_read_limit.category;
        RAISE NOTICE 'position ($2): %', coalesce(category_read_limit.position, 1);
        RAISE NOTICE 'batch_size ($3): %', coalesce(category_read_limit.batch_size, 1000);
        RAISE NOTICE 'correlation ($4): %', category_read_limit.correlation;
        RAISE NOTICE 'consumer_group_member ($5): %', category_read_limit.consumer_group_member;
        RAISE NOTICE 'consumer_group_size ($6): %', category_read_limit.consumer_group_size;
        RAISE NOTICE 'condition: %', category_read_limit.condition;
    END IF;

    -- Message DB casts the size to smallint when it runs the query, after its NOTICEs: 22003 for a size
    -- above 32767, here as there.
    _size := category_read_limit.consumer_group_size::smallint;

    RETURN nullif(coalesce(category_read_limit.batch_size, 1000), -1);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- get_last_stream_message(stream_name, type): as in 00001; only the NOTICE header and labels change.
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
        RAISE NOTICE '» get_last_message';
        RAISE NOTICE 'stream_name ($1): %', get_last_stream_message.stream_name;
        RAISE NOTICE 'type ($2): %', get_last_stream_message.type;
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

-- +goose Down
-- Deliberately empty (see 00001): the functions are equivalent in results and errors.
SELECT 1;
