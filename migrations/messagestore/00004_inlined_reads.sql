-- +goose Up
--
-- Category reads that the planner inlines into the caller's query.
--
-- Up to 00003 get_category_messages was PL/pgSQL. Measured on a batch of 1000 (docs/BENCHMARKS.md), its
-- RETURN QUERY cost about a third of the server time on top of the very same SELECT: every row is
-- materialised into a tuplestore and only then read back out by the caller's Function Scan, and the
-- client gets the first row only once the whole batch has been built. A LANGUAGE sql function that is
-- STABLE, not STRICT, has no SET clause and whose body is one SELECT is inlined instead: the caller's
-- query becomes that SELECT with the arguments substituted, so rows stream to the client while the
-- index scan is still running (on a 2-core machine the client decodes on one core while the server
-- produces on the other), and with constant arguments (or a custom plan) every branch below that
-- cannot apply is removed at plan time.
--
-- Everything the contract says stays as it was (MESSAGE_STORE.md sections 6.5, 7 and 8): parameter
-- names and defaults, the row type, every error text and SQLSTATE and their order, the debug NOTICEs,
-- the condition switch and the dynamic condition path, the read semantics. What is not a single SELECT
-- moved out to two PL/pgSQL helpers:
--
--   * category_read_limit(...) runs the validations in the contract's order, raises the debug NOTICEs
--     and returns the LIMIT. The inlined SELECT calls it in its LIMIT clause, which the executor
--     evaluates exactly once, before it fetches the first row -- also for batch_size 0, which fetches
--     nothing. It is VOLATILE so that the planner never evaluates it early (a STABLE function with
--     constant arguments would be pre-evaluated while estimating the LIMIT).
--   * category_read_plpgsql(...) is 00003's get_category_messages body unchanged: the correlated reads
--     (through messages_category_correlation, whose plan needs the plain equality on the correlation)
--     and the reads with a condition (dynamic SQL) go through it, as before.
--
-- The inlined branch serves the plain read and the consumer-group read. The consumer-group filter is
-- written `member IS NULL OR mod(...) = member`: folded away for a plain read, a per-row filter on the
-- stored hash for a group read (as in 00003). The size is compared as a bigint: category_read_limit has
-- already raised 22003 'smallint out of range' for sizes the smallint cast of Message DB rejects, and
-- below that the values are equal. (Casting to smallint in the SELECT itself would let constant folding
-- raise 22003 at plan time, ahead of a validation error that must come first.)
--
-- Volatility: Message DB's read functions are VOLATILE PL/pgSQL; ours is now STABLE SQL (volatility is
-- not part of the contract's section 12). A read inside a statement sees that statement's snapshot, as
-- any SELECT does; a client calling it as a statement of its own sees exactly what it saw before.

-- +goose StatementBegin
-- category_read_limit(...): the validations of get_category_messages, in the contract's order, then the
-- debug NOTICEs; returns the LIMIT of the read (NULL = unlimited; a negative one other than -1 is left
-- for the executor's own 2201W 'LIMIT must not be negative'). Not part of Message DB.
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

    -- Message DB casts the size to smallint when it runs the query: same error, same place.
    _size := category_read_limit.consumer_group_size::smallint;

    IF current_setting('message_store.debug_get', true) = 'on'
        OR current_setting('message_store.debug', true) = 'on' THEN
        RAISE NOTICE '» get_category_messages';
        RAISE NOTICE 'category: %', category_read_limit.category;
        RAISE NOTICE 'position: %', coalesce(category_read_limit.position, 1);
        RAISE NOTICE 'batch_size: %', coalesce(category_read_limit.batch_size, 1000);
        RAISE NOTICE 'correlation: %', category_read_limit.correlation;
        RAISE NOTICE 'consumer_group_member: %', category_read_limit.consumer_group_member;
        RAISE NOTICE 'consumer_group_size: %', _size;
        RAISE NOTICE 'condition: %', category_read_limit.condition;
    END IF;

    RETURN nullif(coalesce(category_read_limit.batch_size, 1000), -1);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- category_read_plpgsql(...): get_category_messages as 00003 defined it (PL/pgSQL, every path). The
-- inlined get_category_messages hands it the correlated reads and the reads with a condition. Not part
-- of Message DB; same arguments, same results, same errors as get_category_messages.
CREATE OR REPLACE FUNCTION message_store.category_read_plpgsql(
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
    _member bigint := category_read_plpgsql.consumer_group_member;
    _size smallint;
BEGIN
    -- The validations and the debug NOTICEs, exactly those of the inlined path.
    _limit := message_store.category_read_limit(category_read_plpgsql.category, category_read_plpgsql.position,
        category_read_plpgsql.batch_size, category_read_plpgsql.correlation, category_read_plpgsql.consumer_group_member,
        category_read_plpgsql.consumer_group_size, category_read_plpgsql.condition);
    _position := coalesce(category_read_plpgsql.position, 1);
    _size := category_read_plpgsql.consumer_group_size::smallint;

    IF category_read_plpgsql.condition IS NOT NULL THEN
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
             LIMIT $3', category_read_plpgsql.condition)
            USING category_read_plpgsql.category, _position, _limit,
                  category_read_plpgsql.correlation, _member, _size;
        RETURN;
    END IF;

    -- Static paths (see 00003 for why the uncorrelated ones spell the category as a closed range).
    IF category_read_plpgsql.correlation IS NULL AND _member IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) >= category_read_plpgsql.category
              AND message_store.category(m.stream_name) <= category_read_plpgsql.category
              AND m.global_position >= _position
            ORDER BY message_store.category(m.stream_name), m.global_position
            LIMIT _limit;
    ELSIF _member IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) = category_read_plpgsql.category
              AND message_store.category(m.metadata->>'correlationStreamName') = category_read_plpgsql.correlation
              AND m.global_position >= _position
            ORDER BY m.global_position
            LIMIT _limit;
    ELSIF category_read_plpgsql.correlation IS NULL THEN
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) >= category_read_plpgsql.category
              AND message_store.category(m.stream_name) <= category_read_plpgsql.category
              AND m.global_position >= _position
              AND mod(abs(m.cardinal_id_hash), _size) = _member
            ORDER BY message_store.category(m.stream_name), m.global_position
            LIMIT _limit;
    ELSE
        RETURN QUERY
            SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
                   m.global_position, m.data::varchar, m.metadata::varchar, m.time
            FROM message_store.messages AS m
            WHERE message_store.category(m.stream_name) = category_read_plpgsql.category
              AND message_store.category(m.metadata->>'correlationStreamName') = category_read_plpgsql.correlation
              AND m.global_position >= _position
              AND mod(abs(m.cardinal_id_hash), _size) = _member
            ORDER BY m.global_position
            LIMIT _limit;
    END IF;
END;
$$;
-- +goose StatementEnd

-- get_category_messages was PL/pgSQL VOLATILE; CREATE OR REPLACE may change the language and the
-- volatility of a function as long as its arguments and result stay, so clients' grants and the
-- dependants (none) are kept.
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
--
-- One SELECT, inlined by the planner (see the top of this file). Two branches, exactly one of which
-- returns rows:
--   1. no correlation and no condition: an ordered range scan of messages_category, written as in
--      00003 (the closed range keeps generic plans on that index), with the consumer-group filter.
--      Its LIMIT is category_read_limit(...), which validates first. When branch 2 applies, the LIMIT is
--      0 instead, so that a generic plan (which keeps both branches) neither validates twice nor
--      scans.
--   2. a correlation or a condition: category_read_plpgsql(...), which validates and reads.
-- With constant arguments or a custom plan the planner drops the branch that does not apply.
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
LANGUAGE sql STABLE
AS $$
    (SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
            m.global_position, m.data::varchar, m.metadata::varchar, m.time
     FROM message_store.messages AS m
     WHERE get_category_messages.correlation IS NULL
       AND get_category_messages.condition IS NULL
       AND message_store.category(m.stream_name) >= get_category_messages.category
       AND message_store.category(m.stream_name) <= get_category_messages.category
       AND m.global_position >= coalesce(get_category_messages.position, 1)
       AND (get_category_messages.consumer_group_member IS NULL
            OR mod(abs(m.cardinal_id_hash), get_category_messages.consumer_group_size)
               = get_category_messages.consumer_group_member)
     ORDER BY message_store.category(m.stream_name), m.global_position
     LIMIT CASE WHEN get_category_messages.correlation IS NULL AND get_category_messages.condition IS NULL
                THEN message_store.category_read_limit(get_category_messages.category,
                         get_category_messages.position, get_category_messages.batch_size,
                         get_category_messages.correlation, get_category_messages.consumer_group_member,
                         get_category_messages.consumer_group_size, get_category_messages.condition)
                ELSE 0
           END)
    UNION ALL
    SELECT r.id, r.stream_name, r.type, r.position, r.global_position, r.data, r.metadata, r.time
    FROM message_store.category_read_plpgsql(get_category_messages.category, get_category_messages.position,
             get_category_messages.batch_size, get_category_messages.correlation,
             get_category_messages.consumer_group_member, get_category_messages.consumer_group_size,
             get_category_messages.condition) AS r
    WHERE get_category_messages.correlation IS NOT NULL
       OR get_category_messages.condition IS NOT NULL
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'message_store') THEN
        GRANT EXECUTE ON FUNCTION
            message_store.category_read_limit(varchar, bigint, bigint, varchar, bigint, bigint, varchar),
            message_store.category_read_plpgsql(varchar, bigint, bigint, varchar, bigint, bigint, varchar)
            TO message_store;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Deliberately empty (see 00001): the functions are equivalent in results and errors.
SELECT 1;
