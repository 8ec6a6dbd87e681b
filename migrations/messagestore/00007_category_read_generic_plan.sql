-- +goose Up
--
-- get_category_messages: a consumer-group filter that generic plans can estimate.
--
-- Why: a client that prepares its statements (pgx does) gets a generic plan after five calls, planned
-- without the parameters' values. 00004 wrote the consumer-group filter as
--   (member IS NULL OR mod(abs(cardinal_id_hash), size) = member)
-- and without values the planner estimates that OR at about 1 % of the rows, on top of the default
-- 0.5 % for the category range. On an analyzed store of about 90,000 messages it then expected a single
-- row, and preferred a bitmap scan of the whole rest of the category plus a sort to the ordered index
-- scan: 98 ms instead of 1.7 ms for a batch of 1,000, and every read of a catching-up subscription
-- touching everything after its position (messagestore's read benchmark fell to 22,000 msgs/s).
--
-- The filter now reads
--   coalesce(mod(abs(cardinal_id_hash), size) = member, member IS NULL)
-- which selects exactly the same rows -- no member: the comparison is NULL and the coalesce gives true;
-- a member and a hash: the comparison; a member and no hash (a stream name without '-', Message DB's
-- quirk): NULL, then false -- and which the planner estimates as an ordinary boolean expression (half
-- the rows), so the ordered scan of messages_category wins. Everything else is 00004's definition:
-- parameter names, defaults, result, errors, NOTICEs, the two branches.
-- TestGetCategoryMessagesGenericPlanOnAnalyzedStore pins the plan.

-- +goose StatementBegin
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
       AND coalesce(mod(abs(m.cardinal_id_hash), get_category_messages.consumer_group_size)
                        = get_category_messages.consumer_group_member,
                    get_category_messages.consumer_group_member IS NULL)
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

-- +goose Down
-- Deliberately empty (see 00001): the functions are equivalent in results and errors.
SELECT 1;
