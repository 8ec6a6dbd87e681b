package migrations_test

// Conformance tests of the message_store schema against the Message DB 1.3.0 interface (its
// documented functions, errors and views), run against a real PostgreSQL. Every test isolates itself with fresh UUID stream and
// category names, never by wiping tables, so the tests run in parallel and against a shared database.

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"videotutorials/migrations"
)

// querier is what the helpers need from a pool, a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newCategory returns a fresh category name (no '-').
func newCategory(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")
}

// newStream returns a fresh stream name in a fresh category.
func newStream(prefix string) string {
	return newCategory(prefix) + "-" + strings.ReplaceAll(uuid.NewString(), "-", "")
}

type msg struct {
	ID             string
	StreamName     string
	Type           string
	Position       int64
	GlobalPosition int64
	Data           *string
	Metadata       *string
	Time           time.Time
}

func collect(rows pgx.Rows, err error) ([]msg, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []msg
	for rows.Next() {
		var m msg
		if err := rows.Scan(&m.ID, &m.StreamName, &m.Type, &m.Position, &m.GlobalPosition, &m.Data, &m.Metadata, &m.Time); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// mustRows is collect that fails the test on an error: mustRows(t)(q.Query(ctx, sql, args...)).
func mustRows(t *testing.T) func(pgx.Rows, error) []msg {
	t.Helper()
	return func(rows pgx.Rows, err error) []msg {
		t.Helper()
		out, err := collect(rows, err)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func write(ctx context.Context, q querier, stream, typ string, data, metadata, expected any) (int64, error) {
	var pos int64
	err := q.QueryRow(ctx, `SELECT message_store.write_message($1, $2, $3, $4, $5, $6)`,
		uuid.NewString(), stream, typ, data, metadata, expected).Scan(&pos)
	return pos, err
}

func mustWrite(t *testing.T, q querier, stream, typ string, data, metadata any) int64 {
	t.Helper()
	pos, err := write(testCtx(t), q, stream, typ, data, metadata, nil)
	if err != nil {
		t.Fatalf("write_message(%s): %v", stream, err)
	}
	return pos
}

// wantPgError checks the SQLSTATE and, unless msg is empty, the exact message.
func wantPgError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("got %v, want PostgreSQL error %s %q", err, code, msg)
	}
	if pgErr.Code != code || (msg != "" && pgErr.Message != msg) {
		t.Fatalf("got %s %q, want %s %q", pgErr.Code, pgErr.Message, code, msg)
	}
}

func positions(ms []msg) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Position
	}
	return out
}

func globalPositions(ms []msg) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.GlobalPosition
	}
	return out
}

func streamNames(ms []msg) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.StreamName
	}
	return out
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// connect opens a dedicated connection with the given run-time parameters (search_path, settings).
func connect(t *testing.T, params map[string]string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(testURL)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	c, err := pgx.ConnectConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// ---------------------------------------------------------------------------------------------------
// Installed layout

func TestMigrationIsCurrentAndRerunnable(t *testing.T) {
	ctx := testCtx(t)
	// TestMain already ran Up twice; a third run and the readiness check must agree.
	if err := migrations.MessageStore.Up(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	ok, err := migrations.MessageStore.Current(ctx, pool)
	if err != nil || !ok {
		t.Fatalf("Current = %v, %v", ok, err)
	}
}

func TestTableShape(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	rows, err := pool.Query(ctx, `
		SELECT column_name, data_type, is_nullable, coalesce(column_default, '')
		FROM information_schema.columns
		WHERE table_schema = 'message_store' AND table_name = 'messages'
		ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ name, typ, nullable, def string }
	var got []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.name, &c.typ, &c.nullable, &c.def); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []col{
		{"global_position", "bigint", "NO", "nextval('message_store.messages_global_position_seq'::regclass)"},
		{"position", "bigint", "NO", ""},
		{"time", "timestamp without time zone", "NO", "(now() AT TIME ZONE 'utc'::text)"},
		{"stream_name", "text", "NO", ""},
		{"type", "text", "NO", ""},
		{"data", "jsonb", "YES", ""},
		{"metadata", "jsonb", "YES", ""},
		{"id", "uuid", "NO", "gen_random_uuid()"},
		// Ours, allowed as extras: the $all reader's transaction id and the consumer-group hash.
		{"transaction_id", "xid8", "NO", "pg_current_xact_id()"},
		{"cardinal_id_hash", "bigint", "YES", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("columns = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}

	// Unique id (by that name: it is in the 23505 text), unique (stream_name, position), the PK.
	for name, def := range map[string]string{
		"messages_pkey":   "CREATE UNIQUE INDEX messages_pkey ON message_store.messages USING btree (global_position)",
		"messages_id":     "CREATE UNIQUE INDEX messages_id ON message_store.messages USING btree (id)",
		"messages_stream": "CREATE UNIQUE INDEX messages_stream ON message_store.messages USING btree (stream_name, \"position\")",
	} {
		var got string
		if err := pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'message_store' AND indexname = $1`, name).Scan(&got); err != nil {
			t.Fatalf("index %s: %v", name, err)
		}
		if got != def {
			t.Errorf("index %s = %s, want %s", name, got, def)
		}
	}

	// No triggers: they would slow every write.
	var triggers int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgrelid = 'message_store.messages'::regclass`).Scan(&triggers); err != nil || triggers != 0 {
		t.Errorf("triggers on messages = %d, %v", triggers, err)
	}
}

func TestMessageType(t *testing.T) {
	t.Parallel()
	rows, err := pool.Query(testCtx(t), `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		WHERE a.attrelid = 'message_store.message'::regclass AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		got = append(got, n+" "+ty)
	}
	want := []string{"id character varying", "stream_name character varying", "type character varying",
		"position bigint", "global_position bigint", "data character varying", "metadata character varying",
		"time timestamp without time zone"}
	if !equalSlices(got, want) {
		t.Fatalf("message_store.message = %v, want %v", got, want)
	}
}

// TestFunctionSignatures pins the parameter names, defaults and return types: clients call with named
// notation and with positional NULLs.
func TestFunctionSignatures(t *testing.T) {
	t.Parallel()
	want := map[string][2]string{
		"message_store_version":   {"", "character varying"},
		"hash_64":                 {"value character varying", "bigint"},
		"acquire_lock":            {"stream_name character varying", "bigint"},
		"category":                {"stream_name character varying", "character varying"},
		"is_category":             {"stream_name character varying", "boolean"},
		"id":                      {"stream_name character varying", "character varying"},
		"cardinal_id":             {"stream_name character varying", "character varying"},
		"stream_version":          {"stream_name character varying", "bigint"},
		"write_message":           {"id character varying, stream_name character varying, type character varying, data jsonb, metadata jsonb DEFAULT NULL::jsonb, expected_version bigint DEFAULT NULL::bigint", "bigint"},
		"get_stream_messages":     {"stream_name character varying, \"position\" bigint DEFAULT 0, batch_size bigint DEFAULT 1000, condition character varying DEFAULT NULL::character varying", "SETOF message_store.message"},
		"get_category_messages":   {"category character varying, \"position\" bigint DEFAULT 1, batch_size bigint DEFAULT 1000, correlation character varying DEFAULT NULL::character varying, consumer_group_member bigint DEFAULT NULL::bigint, consumer_group_size bigint DEFAULT NULL::bigint, condition character varying DEFAULT NULL::character varying", "SETOF message_store.message"},
		"get_last_stream_message": {"stream_name character varying, type character varying DEFAULT NULL::character varying", "SETOF message_store.message"},
		// Ours, beyond Message DB's twelve.
		"get_all_messages": {"after_transaction_id xid8 DEFAULT '0'::xid8, after_global_position bigint DEFAULT 0, batch_size bigint DEFAULT 1000",
			"TABLE(id character varying, stream_name character varying, type character varying, \"position\" bigint, global_position bigint, data character varying, metadata character varying, \"time\" timestamp without time zone, transaction_id xid8)"},
		"write_messages": {"stream_name character varying, ids character varying[], types character varying[], data jsonb[], metadata jsonb[] DEFAULT NULL::jsonb[], expected_version bigint DEFAULT NULL::bigint", "bigint"},
		// 00006: a combined write to many streams.
		"write_messages_to_streams": {"ids character varying[], stream_names character varying[], types character varying[], data jsonb[], metadata jsonb[] DEFAULT NULL::jsonb[]", "bigint[]"},
		// 00004: the validations and the PL/pgSQL paths of the inlined get_category_messages.
		"category_read_limit":   {"category character varying, \"position\" bigint, batch_size bigint, correlation character varying, consumer_group_member bigint, consumer_group_size bigint, condition character varying", "bigint"},
		"category_read_plpgsql": {"category character varying, \"position\" bigint DEFAULT 1, batch_size bigint DEFAULT 1000, correlation character varying DEFAULT NULL::character varying, consumer_group_member bigint DEFAULT NULL::bigint, consumer_group_size bigint DEFAULT NULL::bigint, condition character varying DEFAULT NULL::character varying", "SETOF message_store.message"},
		// 00005: the same for get_stream_messages.
		"stream_read_limit":   {"stream_name character varying, \"position\" bigint, batch_size bigint, condition character varying", "bigint"},
		"stream_read_plpgsql": {"stream_name character varying, \"position\" bigint DEFAULT 0, batch_size bigint DEFAULT 1000, condition character varying DEFAULT NULL::character varying", "SETOF message_store.message"},
	}
	rows, err := pool.Query(testCtx(t), `
		SELECT p.proname, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
		       p.prosecdef, coalesce(array_to_string(p.proconfig, ','), '')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'message_store'`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var name, args, result, config string
		var secdef bool
		if err := rows.Scan(&name, &args, &result, &secdef, &config); err != nil {
			t.Fatal(err)
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected function message_store.%s(%s)", name, args)
			continue
		}
		if seen[name] {
			t.Errorf("message_store.%s is overloaded", name)
		}
		seen[name] = true
		if args != w[0] || result != w[1] {
			t.Errorf("message_store.%s(%s) %s, want (%s) %s", name, args, result, w[0], w[1])
		}
		// Run as the caller, and no SET clause (it would prevent inlining and cost a GUC swap per call).
		if secdef || config != "" {
			t.Errorf("message_store.%s: security definer %v, config %q", name, secdef, config)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("missing function message_store.%s", name)
		}
	}
}

// TestHelpersAreInlined checks that the pure helpers are inlinable SQL (their bodies show up in the
// plan instead of a function call) and that a category read uses messages_category as an ordered range
// scan, also under the generic plan PL/pgSQL switches to.
func TestHelpersAreInlined(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	rows, err := pool.Query(ctx, `
		SELECT p.proname, l.lanname, p.provolatile, p.proparallel
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
		WHERE n.nspname = 'message_store' AND p.proname IN ('category', 'id', 'cardinal_id', 'is_category', 'hash_64')`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var name, lang, vol, par string
		if err := rows.Scan(&name, &lang, &vol, &par); err != nil {
			t.Fatal(err)
		}
		n++
		if lang != "sql" || vol != "i" || par != "s" {
			t.Errorf("%s: language %s, volatility %s, parallel %s; want sql, immutable, safe", name, lang, vol, par)
		}
	}
	if n != 5 {
		t.Fatalf("found %d helpers", n)
	}

	// The static queries of get_category_messages, as PL/pgSQL runs them once it uses a generic plan.
	p := genericPlan(t, `
		SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
		       m.global_position, m.data::varchar, m.metadata::varchar, m.time
		FROM message_store.messages AS m
		WHERE message_store.category(m.stream_name) >= $1
		  AND message_store.category(m.stream_name) <= $1
		  AND m.global_position >= $2
		ORDER BY message_store.category(m.stream_name), m.global_position
		LIMIT $3`, `'x', 1, 1000`)
	if !strings.Contains(p, "Index Scan using messages_category on") || strings.Contains(p, "Sort") ||
		!strings.Contains(p, "split_part") || strings.Contains(p, "category(") {
		t.Fatalf("category read plan is not an inlined ordered scan of messages_category:\n%s", p)
	}
	p = genericPlan(t, `
		SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
		       m.global_position, m.data::varchar, m.metadata::varchar, m.time
		FROM message_store.messages AS m
		WHERE message_store.category(m.stream_name) = $1
		  AND message_store.category(m.metadata->>'correlationStreamName') = $2
		  AND m.global_position >= $3
		ORDER BY m.global_position
		LIMIT $4`, `'x', 'y', 1, 1000`)
	if !strings.Contains(p, "Index Scan using messages_category_correlation") || strings.Contains(p, "Sort") {
		t.Fatalf("correlated category read plan is not an ordered scan of messages_category_correlation:\n%s", p)
	}
}

// genericPlan returns EXPLAIN (VERBOSE) of query run with args under a generic plan, with the planner
// settings given (e.g. "enable_bitmapscan = off") set for it alone.
func genericPlan(t *testing.T, query, args string, settings ...string) string {
	t.Helper()
	ctx := testCtx(t)
	return explainWith(t, append([]string{"plan_cache_mode = force_generic_plan"}, settings...), func(tx pgx.Tx) (string, error) {
		if _, err := tx.Exec(ctx, `PREPARE generic_plan_probe AS `+query); err != nil {
			return "", err
		}
		defer tx.Exec(ctx, `DEALLOCATE generic_plan_probe`)
		return explainLines(ctx, tx, `EXPLAIN (VERBOSE) EXECUTE generic_plan_probe(`+args+`)`)
	})
}

// explainWith runs explain in a transaction of its own, with each planner setting SET LOCAL first,
// and returns the plan it reads (failing the test on an error).
func explainWith(t *testing.T, settings []string, explain func(tx pgx.Tx) (string, error)) string {
	t.Helper()
	ctx := testCtx(t)
	var plan string
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, setting := range settings {
			if _, err := tx.Exec(ctx, `SET LOCAL `+setting); err != nil {
				return err
			}
		}
		var err error
		plan, err = explain(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// explainLines returns the lines an EXPLAIN statement prints, one per line.
func explainLines(ctx context.Context, tx pgx.Tx, sql string, args ...any) (string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan.WriteString(line + "\n")
	}
	return plan.String(), rows.Err()
}

func TestRoleAndPrivileges(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var login bool
	if err := pool.QueryRow(ctx, `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'message_store'`).Scan(&login); err != nil {
		t.Fatalf("role message_store: %v", err)
	}
	if !login {
		t.Error("role message_store cannot log in")
	}
	checks := []struct {
		sql  string
		want bool
	}{
		{`SELECT has_schema_privilege('message_store', 'message_store', 'USAGE')`, true},
		{`SELECT has_table_privilege('message_store', 'message_store.messages', 'SELECT')`, true},
		{`SELECT has_table_privilege('message_store', 'message_store.messages', 'INSERT')`, true},
		{`SELECT has_table_privilege('message_store', 'message_store.messages', 'UPDATE')`, false},
		{`SELECT has_table_privilege('message_store', 'message_store.messages', 'DELETE')`, false},
		{`SELECT has_table_privilege('message_store', 'message_store.messages', 'TRUNCATE')`, false},
		{`SELECT has_sequence_privilege('message_store', 'message_store.messages_global_position_seq', 'USAGE')`, true},
		{`SELECT has_sequence_privilege('message_store', 'message_store.messages_global_position_seq', 'SELECT')`, true},
		{`SELECT has_function_privilege('message_store', 'gen_random_uuid()', 'EXECUTE')`, true},
		{`SELECT bool_and(has_function_privilege('message_store', p.oid, 'EXECUTE'))
		  FROM pg_proc p WHERE p.pronamespace = 'message_store'::regnamespace`, true},
		{`SELECT bool_and(has_table_privilege('message_store', c.oid, 'SELECT'))
		  FROM pg_class c WHERE c.relnamespace = 'message_store'::regnamespace AND c.relkind = 'v'`, true},
	}
	for _, c := range checks {
		var got bool
		if err := pool.QueryRow(ctx, c.sql).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.sql, got, c.want)
		}
	}
}

// TestGrantedRole: a login role granted message_store writes and reads through the functions (no
// search_path set up for it) but cannot rewrite history.
func TestGrantedRole(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	role := "ms_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := pool.Exec(ctx, `CREATE ROLE `+role+` LOGIN`); err != nil {
		t.Skipf("cannot create a role here: %v", err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })
	if _, err := pool.Exec(ctx, `GRANT message_store TO `+role); err != nil {
		t.Fatal(err)
	}
	c := connect(t, nil)
	if _, err := c.Exec(ctx, `SET ROLE `+role); err != nil {
		t.Fatal(err)
	}
	stream := newStream("granted")
	for i := int64(0); i < 2; i++ {
		if pos := mustWrite(t, c, stream, "Done", `{}`, nil); pos != i {
			t.Fatalf("position %d, want %d", pos, i)
		}
	}
	if got := mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, stream)); len(got) != 2 {
		t.Fatalf("read %d messages", len(got))
	}
	cat := strings.SplitN(stream, "-", 2)[0]
	if got := mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, NULL, NULL, NULL, 0, 1)`, cat)); len(got) != 2 {
		t.Fatalf("read %d messages", len(got))
	}
	if _, err := c.Exec(ctx, `SELECT count(*) FROM message_store.type_summary`); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exec(ctx, `UPDATE message_store.messages SET type = 'Forged' WHERE stream_name = $1`, stream)
	wantPgError(t, err, "42501", "permission denied for table messages")
	_, err = c.Exec(ctx, `DELETE FROM message_store.messages WHERE stream_name = $1`, stream)
	wantPgError(t, err, "42501", "permission denied for table messages")
	if _, err := c.Exec(ctx, `RESET ROLE`); err != nil {
		t.Fatal(err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var v string
	if err := pool.QueryRow(testCtx(t), `SELECT message_store.message_store_version()`).Scan(&v); err != nil || v != "1.3.0" {
		t.Fatalf("message_store_version() = %q, %v", v, err)
	}
}

// ---------------------------------------------------------------------------------------------------
// Stream-name helpers

func TestStreamNameHelpers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	type row struct {
		in                     *string
		category, id, cardinal *string
		isCategory             bool
	}
	s := func(v string) *string { return &v }
	cases := []row{
		{s("account-123"), s("account"), s("123"), s("123"), false},
		{s("account:command-123+abc"), s("account:command"), s("123+abc"), s("123"), false},
		{s("account"), s("account"), nil, nil, true},
		{s("a-b-c"), s("a"), s("b-c"), s("b-c"), false},
		{s("a-"), s("a"), s(""), s(""), false},
		{s("cat-1+2+3"), s("cat"), s("1+2+3"), s("1"), false},
		{s("cat-+2"), s("cat"), s("+2"), s(""), false},
		{s("-x"), s(""), s("x"), s("x"), false},
		{s(""), s(""), nil, nil, true},
		{s("ünï-cödé+ß"), s("ünï"), s("cödé+ß"), s("cödé"), false},
		{nil, nil, nil, nil, true}, // is_category(NULL) is true: Message DB's quirk
	}
	for _, c := range cases {
		var category, id, cardinal *string
		var isCategory bool
		if err := pool.QueryRow(ctx, `SELECT message_store.category($1), message_store.id($1),
			message_store.cardinal_id($1), message_store.is_category($1)`, c.in).Scan(&category, &id, &cardinal, &isCategory); err != nil {
			t.Fatal(err)
		}
		str := func(p *string) string {
			if p == nil {
				return "<NULL>"
			}
			return fmt.Sprintf("%q", *p)
		}
		if str(category) != str(c.category) || str(id) != str(c.id) || str(cardinal) != str(c.cardinal) || isCategory != c.isCategory {
			t.Errorf("%s: category %s id %s cardinal_id %s is_category %v; want %s %s %s %v", str(c.in),
				str(category), str(id), str(cardinal), isCategory, str(c.category), str(c.id), str(c.cardinal), c.isCategory)
		}
	}
	// Named notation with the contract's parameter names.
	var category, id, cardinal string
	var isCategory bool
	if err := pool.QueryRow(ctx, `SELECT message_store.category(stream_name => 'a-b'), message_store.id(stream_name => 'a-b'),
		message_store.cardinal_id(stream_name => 'a-b+c'), message_store.is_category(stream_name => 'a')`).Scan(&category, &id, &cardinal, &isCategory); err != nil {
		t.Fatal(err)
	}
	if category != "a" || id != "b" || cardinal != "b" || !isCategory {
		t.Fatalf("named notation: %q %q %q %v", category, id, cardinal, isCategory)
	}
}

// hash64 is hash_64 computed independently: the first 8 bytes of md5 as a big-endian signed integer.
func hash64(s string) int64 {
	sum := md5.Sum([]byte(s))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func TestHash64(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	vectors := map[string]int64{
		"someStream-123": -6897031765186548867,
		"someStream":     2053039834977696644,
		"abc":            -8070080442485551184,
		"x":              -7073778008782503884,
		"":               -3162216497309240828,
	}
	for in, want := range vectors {
		var got int64
		if err := pool.QueryRow(ctx, `SELECT message_store.hash_64(value => $1)`, in).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want || hash64(in) != want {
			t.Errorf("hash_64(%q) = %d (Go: %d), want %d", in, got, hash64(in), want)
		}
	}
	for _, in := range []string{"ünïcödé", "account:command-1+2", strings.Repeat("z", 1000)} {
		var got int64
		if err := pool.QueryRow(ctx, `SELECT message_store.hash_64($1)`, in).Scan(&got); err != nil || got != hash64(in) {
			t.Errorf("hash_64(%q) = %d, %v; want %d", in, got, err, hash64(in))
		}
	}
	var null *int64
	if err := pool.QueryRow(ctx, `SELECT message_store.hash_64(NULL)`).Scan(&null); err != nil || null != nil {
		t.Fatalf("hash_64(NULL) = %v, %v", null, err)
	}
}

// TestCardinalIDHash: the stored consumer-group hash equals hash_64(cardinal_id(stream_name)) for every
// shape of name (00002 spells it with built-ins; they must not drift apart).
func TestCardinalIDHash(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("hash")
	names := []string{cat, cat + "-", cat + "-1", cat + "-1+a", cat + "-+a", cat + "-a-b+c", cat + "-ünï+x", cat + "-+", cat + "-1++"}
	for _, n := range names {
		mustWrite(t, pool, n, "T", `{}`, nil)
	}
	var bad int
	if err := pool.QueryRow(ctx, `
		SELECT count(*) FROM message_store.messages
		WHERE message_store.category(stream_name) = $1
		  AND cardinal_id_hash IS DISTINCT FROM message_store.hash_64(message_store.cardinal_id(stream_name))`, cat).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d rows with a cardinal_id_hash that differs from hash_64(cardinal_id(stream_name))", bad)
	}
}

// ---------------------------------------------------------------------------------------------------
// write_message, acquire_lock, stream_version

func TestWriteMessagePositionsAndVersions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("write")

	var v *int64
	if err := pool.QueryRow(ctx, `SELECT message_store.stream_version($1)`, stream).Scan(&v); err != nil || v != nil {
		t.Fatalf("stream_version of an empty stream = %v, %v; want NULL", v, err)
	}
	if err := pool.QueryRow(ctx, `SELECT message_store.stream_version(NULL)`).Scan(&v); err != nil || v != nil {
		t.Fatalf("stream_version(NULL) = %v, %v; want NULL", v, err)
	}

	_, err := write(ctx, pool, stream, "T", `{}`, nil, 0)
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: 0 (Stream: %s, Stream Version: -1)", stream))

	if pos, err := write(ctx, pool, stream, "T", `{}`, nil, -1); err != nil || pos != 0 {
		t.Fatalf("first write with expected version -1 = %d, %v", pos, err)
	}
	if pos, err := write(ctx, pool, stream, "T", `{}`, nil, nil); err != nil || pos != 1 {
		t.Fatalf("second write without expected version = %d, %v", pos, err)
	}
	if pos, err := write(ctx, pool, stream, "T", `{}`, nil, 1); err != nil || pos != 2 {
		t.Fatalf("third write with expected version 1 = %d, %v", pos, err)
	}
	_, err = write(ctx, pool, stream, "T", `{}`, nil, -1)
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: -1 (Stream: %s, Stream Version: 2)", stream))
	_, err = write(ctx, pool, stream, "T", `{}`, nil, 5)
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: 5 (Stream: %s, Stream Version: 2)", stream))

	if err := pool.QueryRow(ctx, `SELECT message_store.stream_version(stream_name => $1)`, stream).Scan(&v); err != nil || v == nil || *v != 2 {
		t.Fatalf("stream_version = %v, %v; want 2", v, err)
	}

	// Exact name match: a longer name or another category is another stream.
	if pos := mustWrite(t, pool, stream+"0", "T", `{}`, nil); pos != 0 {
		t.Fatalf("position in %s0 = %d", stream, pos)
	}
	if pos := mustWrite(t, pool, stream+"+x", "T", `{}`, nil); pos != 0 {
		t.Fatalf("position in %s+x = %d", stream, pos)
	}

	// Named notation with the contract's parameter names.
	var pos int64
	if err := pool.QueryRow(ctx, `SELECT message_store.write_message(id => $1, stream_name => $2, "type" => 'Named',
		data => '{"n": 1}', expected_version => 2)`, uuid.NewString(), stream).Scan(&pos); err != nil || pos != 3 {
		t.Fatalf("named-notation write = %d, %v", pos, err)
	}

	// A bare category name is a legal stream for writing, versioning and the last message.
	bare := newCategory("bare")
	for i := int64(0); i < 2; i++ {
		if pos := mustWrite(t, pool, bare, "T", `{}`, nil); pos != i {
			t.Fatalf("bare stream position %d, want %d", pos, i)
		}
	}
	if err := pool.QueryRow(ctx, `SELECT message_store.stream_version($1)`, bare).Scan(&v); err != nil || v == nil || *v != 1 {
		t.Fatalf("stream_version(bare) = %v, %v", v, err)
	}
}

func TestWriteMessageInOneTransaction(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("tx")
	var times []time.Time
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i := int64(0); i < 3; i++ {
			var expected any
			if i > 0 {
				expected = i - 1 // chains: the version sees the transaction's own rows
			}
			pos, err := write(ctx, tx, stream, "T", `{}`, nil, expected)
			if err != nil {
				return err
			}
			if pos != i {
				return fmt.Errorf("position %d, want %d", pos, i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, stream)) {
		times = append(times, m.Time)
	}
	if len(times) != 3 || !times[0].Equal(times[1]) || !times[1].Equal(times[2]) {
		t.Fatalf("times in one transaction differ: %v", times)
	}

	// Any error rolls back the caller's transaction: nothing of it stays.
	other := newStream("rollback")
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := write(ctx, tx, other, "T", `{}`, nil, nil); err != nil {
			return err
		}
		_, err := write(ctx, tx, other, "T", `{}`, nil, 7)
		return err
	})
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: 7 (Stream: %s, Stream Version: 0)", other))
	var v *int64
	if err := pool.QueryRow(ctx, `SELECT message_store.stream_version($1)`, other).Scan(&v); err != nil || v != nil {
		t.Fatalf("stream_version after rollback = %v, %v; want NULL", v, err)
	}
}

func TestWriteMessageErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("errors")
	const insert = `SELECT message_store.write_message($1, $2, $3, $4, $5, $6)`

	_, err := pool.Exec(ctx, insert, "not-a-uuid", stream, "T", `{}`, nil, nil)
	wantPgError(t, err, "22P02", `invalid input syntax for type uuid: "not-a-uuid"`)

	// The version check comes before the uuid cast.
	_, err = pool.Exec(ctx, insert, "not-a-uuid", stream, "T", `{}`, nil, 3)
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: 3 (Stream: %s, Stream Version: -1)", stream))

	_, err = pool.Exec(ctx, insert, nil, stream, "T", `{}`, nil, nil)
	wantPgError(t, err, "23502", "")
	_, err = pool.Exec(ctx, insert, uuid.NewString(), nil, "T", `{}`, nil, nil)
	wantPgError(t, err, "23502", "")
	_, err = pool.Exec(ctx, insert, uuid.NewString(), stream, nil, `{}`, nil, nil)
	wantPgError(t, err, "23502", "")

	// A duplicate id fails in any stream: blind retries are safe.
	id := uuid.NewString()
	if _, err := pool.Exec(ctx, insert, id, stream, "T", `{}`, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, insert, id, newStream("elsewhere"), "T", `{}`, nil, nil)
	wantPgError(t, err, "23505", `duplicate key value violates unique constraint "messages_id"`)
	_, err = pool.Exec(ctx, insert, strings.ToUpper(id), stream, "T", `{}`, nil, nil)
	wantPgError(t, err, "23505", `duplicate key value violates unique constraint "messages_id"`)

	// SQL NULL data is allowed (only the three names are NOT NULL).
	if _, err := pool.Exec(ctx, insert, uuid.NewString(), stream, "T", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestWriteMessageStoredForms(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("forms")
	id := uuid.New()
	upper := strings.ToUpper(id.String())
	dashless := strings.ReplaceAll(uuid.NewString(), "-", "")
	writes := []struct {
		id             string
		data, metadata any
	}{
		{upper, `{"b":2,"a":1}`, `{"correlationStreamName": "x-1", "traceId":  7}`},
		{dashless, `{"a":1,"a":2}`, nil},
		{uuid.NewString(), `null`, `null`},
		{uuid.NewString(), nil, nil},
		{uuid.NewString(), `[1, {"z":null,"y":"ü"}]`, `{}`},
	}
	var before time.Time
	if err := pool.QueryRow(ctx, `SELECT now() AT TIME ZONE 'utc'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for _, w := range writes {
		if _, err := pool.Exec(ctx, `SELECT message_store.write_message($1, $2, 'T', $3, $4)`, w.id, stream, w.data, w.metadata); err != nil {
			t.Fatal(err)
		}
	}
	got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, stream))
	str := func(p *string) string {
		if p == nil {
			return "<NULL>"
		}
		return *p
	}
	want := []struct{ id, data, metadata string }{
		{id.String(), `{"a": 1, "b": 2}`, `{"traceId": 7, "correlationStreamName": "x-1"}`},
		{uuid.MustParse(dashless).String(), `{"a": 2}`, "<NULL>"},
		{"", `null`, `null`},
		{"", "<NULL>", "<NULL>"},
		{"", `[1, {"y": "ü", "z": null}]`, `{}`},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d messages", len(got))
	}
	for i, w := range want {
		if w.id != "" && got[i].ID != w.id {
			t.Errorf("message %d: id %q, want %q", i, got[i].ID, w.id)
		}
		if str(got[i].Data) != w.data || str(got[i].Metadata) != w.metadata {
			t.Errorf("message %d: data %s metadata %s; want %s %s", i, str(got[i].Data), str(got[i].Metadata), w.data, w.metadata)
		}
	}
	// time: UTC wall clock of the transaction start, as timestamp without time zone.
	now := time.Now().UTC()
	for _, m := range got {
		if m.Time.Before(before) || m.Time.Sub(now) > time.Second || now.Sub(m.Time) > 30*time.Second {
			t.Errorf("time %v not between %v and %v", m.Time, before, now)
		}
	}
	// Server-side check too, independent of the clocks of client and server.
	var utc bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL TIME ZONE 'America/New_York'`); err != nil {
			return err
		}
		s := newStream("tz")
		if _, err := write(ctx, tx, s, "T", `{}`, nil, nil); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT time = (now() AT TIME ZONE 'utc') FROM message_store.messages WHERE stream_name = $1`, s).Scan(&utc)
	})
	if err != nil || !utc {
		t.Fatalf("time is not the transaction start in UTC: %v, %v", utc, err)
	}
}

func TestAcquireLock(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("lock")
	cat := strings.SplitN(stream, "-", 2)[0]
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var key, want int64
		if err := tx.QueryRow(ctx, `SELECT message_store.acquire_lock(stream_name => $1), message_store.hash_64($2)`, stream, cat).Scan(&key, &want); err != nil {
			return err
		}
		if key != want || key != hash64(cat) {
			return fmt.Errorf("acquire_lock = %d, want hash_64(category) = %d", key, want)
		}
		// The lock is the category's: another session cannot take it, for any stream of the category.
		var got bool
		if err := pool.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(message_store.hash_64(message_store.category($1)))`, cat+"-other").Scan(&got); err != nil {
			return err
		}
		if got {
			return errors.New("another session took the category lock while it was held")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDebugNotices: message_store.debug (or debug_write / debug_get) only adds NOTICEs.
func TestDebugNotices(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cfg, err := pgx.ParseConfig(testURL)
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	stream := newStream("debug")
	mustWrite(t, c, stream, "T", `{}`, nil)
	if len(notices) != 0 {
		t.Fatalf("notices without debug: %v", notices)
	}
	if _, err := c.Exec(ctx, `SET message_store.debug_write = on`); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, stream, "T", `{}`, nil)
	// As in Message DB: acquire_lock's four NOTICEs, then write_message's (TestDebugNoticesAsMessageDB).
	if len(notices) < 5 || notices[0] != "» acquire_lock" || notices[4] != "» write_message" {
		t.Fatalf("notices with debug_write: %v", notices)
	}
	notices = nil
	if _, err := c.Exec(ctx, writeToStreamsSQL, []string{uuid.NewString()}, []string{stream}, []string{"T"}, []string{`{}`}, nil); err != nil {
		t.Fatal(err)
	}
	if len(notices) == 0 || notices[0] != "» write_messages_to_streams" {
		t.Fatalf("notices of write_messages_to_streams with debug_write: %v", notices)
	}
	notices = nil
	if _, err := c.Exec(ctx, `SET message_store.debug_write = off; SET message_store.debug = on`); err != nil {
		t.Fatal(err)
	}
	mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, stream))
	if len(notices) == 0 || notices[0] != "» get_stream_messages" {
		t.Fatalf("notices with debug: %v", notices)
	}
}

// ---------------------------------------------------------------------------------------------------
// Reads

func TestGetStreamMessages(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("read")
	for i := 0; i < 5; i++ {
		mustWrite(t, pool, stream, fmt.Sprintf("T%d", i), fmt.Sprintf(`{"i": %d}`, i), nil)
	}
	mustWrite(t, pool, stream+"0", "T", `{}`, nil) // a longer name is another stream
	mustWrite(t, pool, stream+"+x", "T", `{}`, nil)

	read := func(sql string, args ...any) []int64 {
		t.Helper()
		return positions(mustRows(t)(pool.Query(ctx, sql, args...)))
	}
	cases := []struct {
		sql  string
		args []any
		want []int64
	}{
		{`SELECT * FROM message_store.get_stream_messages($1)`, []any{stream}, []int64{0, 1, 2, 3, 4}},
		{`SELECT * FROM message_store.get_stream_messages($1, 2)`, []any{stream}, []int64{2, 3, 4}},
		{`SELECT * FROM message_store.get_stream_messages($1, -5)`, []any{stream}, []int64{0, 1, 2, 3, 4}},
		{`SELECT * FROM message_store.get_stream_messages($1, NULL, NULL)`, []any{stream}, []int64{0, 1, 2, 3, 4}},
		{`SELECT * FROM message_store.get_stream_messages($1, 1, 2)`, []any{stream}, []int64{1, 2}},
		{`SELECT * FROM message_store.get_stream_messages($1, 0, -1)`, []any{stream}, []int64{0, 1, 2, 3, 4}},
		{`SELECT * FROM message_store.get_stream_messages($1, 0, 0)`, []any{stream}, nil},
		{`SELECT * FROM message_store.get_stream_messages($1, 5)`, []any{stream}, nil},
		{`SELECT * FROM message_store.get_stream_messages(stream_name => $1, "position" => 3, batch_size => 1)`, []any{stream}, []int64{3}},
	}
	for _, c := range cases {
		if got := read(c.sql, c.args...); !equalSlices(got, c.want) {
			t.Errorf("%s: positions %v, want %v", c.sql, got, c.want)
		}
	}
	got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, 4)`, stream))
	if len(got) != 1 || got[0].StreamName != stream || got[0].Type != "T4" || *got[0].Data != `{"i": 4}` || got[0].Metadata != nil {
		t.Fatalf("message 4 = %+v", got)
	}

	_, err := collect(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, 0, -2)`, stream))
	wantPgError(t, err, "2201W", "LIMIT must not be negative")
	cat := strings.SplitN(stream, "-", 2)[0]
	_, err = collect(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, cat))
	wantPgError(t, err, "P0001", "Must be a stream name: "+cat)
	_, err = collect(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages(NULL)`))
	wantPgError(t, err, "P0001", "Must be a stream name: <NULL>")
	_, err = collect(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages('')`))
	wantPgError(t, err, "P0001", "Must be a stream name: ")
}

func TestGetLastStreamMessage(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("last")
	if got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_last_stream_message($1)`, stream)); len(got) != 0 {
		t.Fatalf("last of an empty stream = %v", got)
	}
	for _, typ := range []string{"A", "B", "A", "C"} {
		mustWrite(t, pool, stream, typ, `{}`, nil)
	}
	check := func(sql string, args []any, wantPos int64, ok bool) {
		t.Helper()
		got := mustRows(t)(pool.Query(ctx, sql, args...))
		if !ok {
			if len(got) != 0 {
				t.Errorf("%s %v: got %v, want none", sql, args, got)
			}
			return
		}
		if len(got) != 1 || got[0].Position != wantPos {
			t.Errorf("%s %v: got %v, want position %d", sql, args, positions(got), wantPos)
		}
	}
	check(`SELECT * FROM message_store.get_last_stream_message($1)`, []any{stream}, 3, true)
	check(`SELECT * FROM message_store.get_last_stream_message($1, NULL)`, []any{stream}, 3, true)
	check(`SELECT * FROM message_store.get_last_stream_message($1, 'A')`, []any{stream}, 2, true)
	check(`SELECT * FROM message_store.get_last_stream_message(stream_name => $1, "type" => 'B')`, []any{stream}, 1, true)
	check(`SELECT * FROM message_store.get_last_stream_message($1, 'Z')`, []any{stream}, 0, false)
	// No validation: a bare category name is just another stream.
	bare := newCategory("lastbare")
	mustWrite(t, pool, bare, "A", `{}`, nil)
	check(`SELECT * FROM message_store.get_last_stream_message($1)`, []any{bare}, 0, true)
}

func TestGetCategoryMessagesMembershipAndPaging(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("member")
	members := []string{cat, cat + "-1", cat + "-1+x", cat + "-a-b", cat + "-2"}
	others := []string{cat + "X-1", cat + ":command-1", "x" + cat + "-1"}
	for i, s := range members {
		mustWrite(t, pool, s, "T", `{}`, nil)
		if i < len(others) {
			mustWrite(t, pool, others[i], "T", `{}`, nil)
		}
	}
	all := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1)`, cat))
	if !equalSlices(streamNames(all), members) {
		t.Fatalf("category %s = %v, want %v", cat, streamNames(all), members)
	}
	gps := globalPositions(all)
	if !sort.SliceIsSorted(gps, func(i, j int) bool { return gps[i] < gps[j] }) {
		t.Fatalf("not in global position order: %v", gps)
	}
	read := func(sql string, args ...any) []int64 {
		t.Helper()
		return globalPositions(mustRows(t)(pool.Query(ctx, sql, args...)))
	}
	cases := []struct {
		sql  string
		args []any
		want []int64
	}{
		{`SELECT * FROM message_store.get_category_messages($1, $2)`, []any{cat, gps[2]}, gps[2:]}, // inclusive
		{`SELECT * FROM message_store.get_category_messages($1, $2, 2)`, []any{cat, gps[1]}, gps[1:3]},
		{`SELECT * FROM message_store.get_category_messages($1, NULL, NULL)`, []any{cat}, gps},
		{`SELECT * FROM message_store.get_category_messages($1, 0, -1)`, []any{cat}, gps},
		{`SELECT * FROM message_store.get_category_messages($1, 1, 0)`, []any{cat}, nil},
		{`SELECT * FROM message_store.get_category_messages($1, $2)`, []any{cat, gps[4] + 1}, nil},
		{`SELECT * FROM message_store.get_category_messages(category => $1, "position" => $2, batch_size => 1)`, []any{cat, gps[3]}, gps[3:4]},
		{`SELECT * FROM message_store.get_category_messages(NULL)`, nil, nil}, // NULL passes the check, matches nothing
	}
	for _, c := range cases {
		if got := read(c.sql, c.args...); !equalSlices(got, c.want) {
			t.Errorf("%s %v: %v, want %v", c.sql, c.args, got, c.want)
		}
	}
}

func TestGetCategoryMessagesErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("cgerr")
	mustWrite(t, pool, cat+"-1", "T", `{}`, nil)
	const q = `SELECT * FROM message_store.get_category_messages($1, $2, $3, $4, $5, $6, $7)`
	suffix := func(m, s string) string {
		return fmt.Sprintf("(Consumer Group Member: %s, Consumer Group Size: %s)", m, s)
	}
	cases := []struct {
		args       []any
		code, text string
	}{
		{[]any{cat + "-1", nil, nil, nil, nil, nil, nil}, "P0001", "Must be a category: " + cat + "-1"},
		// The category check comes first, before everything else.
		{[]any{cat + "-1", nil, nil, "a-b", 1, nil, nil}, "P0001", "Must be a category: " + cat + "-1"},
		{[]any{cat, nil, nil, "corr-1", nil, nil, nil}, "P0001", "Correlation must be a category (Correlation: corr-1)"},
		{[]any{cat, nil, nil, "corr-1", 1, nil, nil}, "P0001", "Correlation must be a category (Correlation: corr-1)"},
		{[]any{cat, nil, nil, nil, 1, nil, nil}, "P0001", "Consumer group member and size must be specified " + suffix("1", "<NULL>")},
		{[]any{cat, nil, nil, nil, nil, 2, nil}, "P0001", "Consumer group member and size must be specified " + suffix("<NULL>", "2")},
		{[]any{cat, nil, nil, nil, 0, 0, nil}, "P0001", "Consumer group size must not be less than 1 " + suffix("0", "0")},
		{[]any{cat, nil, nil, nil, -1, 0, nil}, "P0001", "Consumer group size must not be less than 1 " + suffix("-1", "0")},
		{[]any{cat, nil, nil, nil, -1, 2, nil}, "P0001", "Consumer group member must not be less than 0 " + suffix("-1", "2")},
		{[]any{cat, nil, nil, nil, 2, 2, nil}, "P0001", "Consumer group member must be less than the group size " + suffix("2", "2")},
		{[]any{cat, nil, nil, nil, 40000, 32768, nil}, "P0001", "Consumer group member must be less than the group size " + suffix("40000", "32768")},
		{[]any{cat, nil, nil, nil, 0, 32768, nil}, "22003", "smallint out of range"},
		{[]any{cat, nil, -2, nil, nil, nil, nil}, "2201W", "LIMIT must not be negative"},
		{[]any{cat, nil, -2, nil, 0, 2, nil}, "2201W", "LIMIT must not be negative"},
	}
	for _, c := range cases {
		_, err := collect(pool.Query(ctx, q, c.args...))
		wantPgError(t, err, c.code, c.text)
	}
	// The largest size that fits a smallint works.
	if _, err := collect(pool.Query(ctx, q, cat, nil, nil, nil, 0, 32767, nil)); err != nil {
		t.Fatal(err)
	}
}

func TestGetCategoryMessagesCorrelation(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("corrcat")
	corr := newCategory("someCorr")
	metas := []any{
		fmt.Sprintf(`{"correlationStreamName": "%s-123"}`, corr), // match
		fmt.Sprintf(`{"correlationStreamName": "%s"}`, corr),     // match
		fmt.Sprintf(`{"correlationStreamName": "%s-1+2"}`, corr), // match
		fmt.Sprintf(`{"correlationStreamName": "%sX-1"}`, corr),  // another category
		`{"traceId": "x"}`, // no key
		nil,                // no metadata
		`{"correlationStreamName": null}`,
	}
	var want []int64
	for i, md := range metas {
		mustWrite(t, pool, fmt.Sprintf("%s-%d", cat, i), "T", `{}`, md)
		if i < 3 {
			want = append(want, int64(i))
		}
	}
	got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, correlation => $2)`, cat, corr))
	var gotIdx []int64
	for _, m := range got {
		var i int64
		fmt.Sscanf(strings.TrimPrefix(m.StreamName, cat+"-"), "%d", &i)
		gotIdx = append(gotIdx, i)
	}
	if !equalSlices(gotIdx, want) {
		t.Fatalf("correlated to %s: streams %v, want %v", corr, gotIdx, want)
	}
	// The batch limit applies after the filter.
	if got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, 1, 2, $2)`, cat, corr)); len(got) != 2 || got[1].StreamName != cat+"-1" {
		t.Fatalf("limited correlated read = %v", streamNames(got))
	}
}

// groupMember is the consumer-group assignment computed independently of the database:
// mod(abs(hash_64(cardinal_id(stream_name))), size); ok is false for a stream without an id.
func groupMember(stream string, size int64) (int64, bool) {
	i := strings.Index(stream, "-")
	if i < 0 {
		return 0, false
	}
	cardinal := strings.SplitN(stream[i+1:], "+", 2)[0]
	h := hash64(cardinal)
	if h < 0 {
		h = -h
	}
	return h % size, true
}

func TestGetCategoryMessagesConsumerGroups(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("group")
	var streams []string
	for i := 0; i < 40; i++ {
		id := uuid.NewString()
		streams = append(streams, cat+"-"+id)
		if i%4 == 0 {
			streams = append(streams, cat+"-"+id+"+a", cat+"-"+id+"+b") // compound ids share the member
		}
	}
	streams = append(streams, cat, cat+"-", cat+"-+x") // no id; empty id; empty cardinal id
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, s := range streams {
			if _, err := write(ctx, tx, s, "T", `{}`, fmt.Sprintf(`{"correlationStreamName": "c%d-1"}`, len(s)%2), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, 1, -1)`, cat))
	if len(all) != len(streams) {
		t.Fatalf("category has %d messages, want %d", len(all), len(streams))
	}
	for size := int64(1); size <= 5; size++ {
		seen := map[int64]int64{} // global position -> member
		for member := int64(0); member < size; member++ {
			got := mustRows(t)(pool.Query(ctx,
				`SELECT * FROM message_store.get_category_messages($1, 1, -1, NULL, $2, $3)`, cat, member, size))
			for _, m := range got {
				if prev, dup := seen[m.GlobalPosition]; dup {
					t.Fatalf("size %d: %s in members %d and %d", size, m.StreamName, prev, member)
				}
				seen[m.GlobalPosition] = member
				if want, ok := groupMember(m.StreamName, size); !ok || want != member {
					t.Errorf("size %d: %s read by member %d, md5 formula says %d (has id: %v)", size, m.StreamName, member, want, ok)
				}
			}
		}
		// Exactly the streams with an id, each once: the bare category name belongs to no member.
		for _, m := range all {
			_, read := seen[m.GlobalPosition]
			_, hasID := groupMember(m.StreamName, size)
			if read != hasID {
				t.Errorf("size %d: %s read %v, has id %v", size, m.StreamName, read, hasID)
			}
		}
	}
	// Combined with correlation and a limit (applied after both filters).
	got := mustRows(t)(pool.Query(ctx,
		`SELECT * FROM message_store.get_category_messages($1, 1, 3, 'c1', 0, 2)`, cat))
	var want []string
	for _, m := range all {
		if mem, ok := groupMember(m.StreamName, 2); ok && mem == 0 && len(m.StreamName)%2 == 1 && len(want) < 3 {
			want = append(want, m.StreamName)
		}
	}
	if !equalSlices(streamNames(got), want) {
		t.Fatalf("member 0 of 2 correlated to c1, 3 at most: %v, want %v", streamNames(got), want)
	}
}

// ---------------------------------------------------------------------------------------------------
// The SQL-condition switch

func TestConditionSwitch(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("cond")
	for i := 0; i < 4; i++ {
		mustWrite(t, pool, stream, "T", `{}`, nil)
	}
	cat := strings.SplitN(stream, "-", 2)[0]
	readStream := func(c *pgx.Conn, cond any) ([]msg, error) {
		return collect(c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, 0, 1000, $2)`, stream, cond))
	}
	readCategory := func(c *pgx.Conn, cond any) ([]msg, error) {
		return collect(c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, 1, 1000, NULL, NULL, NULL, $2)`, cat, cond))
	}
	const cond = `messages.position >= 2`
	expectOff := func(c *pgx.Conn, label string) {
		t.Helper()
		_, err := readStream(c, cond)
		wantPgError(t, err, "P0001", "Retrieval with SQL condition is not activated")
		_, err = readCategory(c, cond)
		wantPgError(t, err, "P0001", "Retrieval with SQL condition is not activated")
		// A NULL condition never needs the switch.
		if got, err := readStream(c, nil); err != nil || len(got) != 4 {
			t.Fatalf("%s: NULL condition: %d, %v", label, len(got), err)
		}
	}
	expectOn := func(c *pgx.Conn, label string) {
		t.Helper()
		for _, read := range []func(*pgx.Conn, any) ([]msg, error){readStream, readCategory} {
			got, err := read(c, cond)
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			if !equalSlices(positions(got), []int64{2, 3}) {
				t.Fatalf("%s: positions %v, want [2 3]", label, positions(got))
			}
		}
	}

	c := connect(t, nil)
	var setting *string
	if err := c.QueryRow(ctx, `SELECT current_setting('message_store.sql_condition', true)`).Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != nil {
		t.Skipf("message_store.sql_condition is set for this database or server (%q): cannot test the unset case", *setting)
	}
	expectOff(c, "unset")
	if _, err := c.Exec(ctx, `SELECT set_config('message_store.sql_condition', 'off', false)`); err != nil {
		t.Fatal(err)
	}
	expectOff(c, "off")
	// Anything but exactly 'off' activates it, even 'false' and ''.
	for _, v := range []string{"on", "true", "false", "0", ""} {
		if _, err := c.Exec(ctx, `SELECT set_config('message_store.sql_condition', $1, false)`, v); err != nil {
			t.Fatal(err)
		}
		expectOn(c, fmt.Sprintf("%q", v))
	}
	// After RESET the placeholder stays defined with '' -- still on, as in Message DB.
	if _, err := c.Exec(ctx, `SET message_store.sql_condition = off`); err != nil {
		t.Fatal(err)
	}
	expectOff(c, "SET off")
	if _, err := c.Exec(ctx, `RESET message_store.sql_condition`); err != nil {
		t.Fatal(err)
	}
	expectOn(c, "after RESET")

	// A transaction-local setting leaves '' behind after the transaction: on for the rest of the session.
	c2 := connect(t, nil)
	tx, err := c2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('message_store.sql_condition', 'on', true)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	expectOn(c2, "after a transaction-local set_config")

	// Per-connection start-up option, as PGOPTIONS / gomdb's CI do.
	c3 := connect(t, map[string]string{"message_store.sql_condition": "on"})
	expectOn(c3, "startup option")
}

func TestConditionSemantics(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := connect(t, map[string]string{"message_store.sql_condition": "on"})
	stream := newStream("condsem")
	cat := strings.SplitN(stream, "-", 2)[0]
	for i := 0; i < 6; i++ {
		mustWrite(t, pool, stream, fmt.Sprintf("T%d", i%2), `{}`, nil)
	}
	mustWrite(t, pool, newStream("condother"), "T0", `{}`, nil)
	cases := []struct {
		sql  string
		args []any
		want []int64
	}{
		// Qualified and unqualified columns; the condition applies before the limit.
		{`SELECT * FROM message_store.get_stream_messages($1, 0, 2, 'messages.type = ''T1''')`, []any{stream}, []int64{1, 3}},
		{`SELECT * FROM message_store.get_stream_messages($1, 0, 1000, 'type = ''T1'' AND position > 1')`, []any{stream}, []int64{3, 5}},
		{`SELECT * FROM message_store.get_stream_messages($1, 0, 1000, 'message_store.messages.position < 1')`, []any{stream}, []int64{0}},
		{`SELECT * FROM message_store.get_stream_messages($1, 0, 1000, 'messages.time <= now() AT TIME ZONE ''utc''')`, []any{stream}, []int64{0, 1, 2, 3, 4, 5}},
		// Parenthesised and ANDed: it cannot widen the stream filter.
		{`SELECT * FROM message_store.get_stream_messages($1, 4, 1000, 'true OR true')`, []any{stream}, []int64{4, 5}},
		{`SELECT * FROM message_store.get_category_messages($1, 1, 1000, NULL, NULL, NULL, 'true OR true')`, []any{cat}, []int64{0, 1, 2, 3, 4, 5}},
		{`SELECT * FROM message_store.get_category_messages($1, 1, 1, NULL, NULL, NULL, 'messages.position >= 4')`, []any{cat}, []int64{4}},
		{`SELECT * FROM message_store.get_category_messages($1, 1, -1, NULL, 0, 1, 'messages.type = ''T0''')`, []any{cat}, []int64{0, 2, 4}},
		{`SELECT * FROM message_store.get_stream_messages($1, 0, 0, 'true')`, []any{stream}, nil},
	}
	for _, tc := range cases {
		got, err := collect(c.Query(ctx, tc.sql, tc.args...))
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if !equalSlices(positions(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.sql, positions(got), tc.want)
		}
	}
	_, err := collect(c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, 0, -2, 'true')`, stream))
	wantPgError(t, err, "2201W", "LIMIT must not be negative")
}

// ---------------------------------------------------------------------------------------------------
// Client call paths and search_path independence

// TestGomdbCallPath calls the functions the way gomdb does: unqualified, on a connection whose
// search_path is message_store,public, always with every argument (NULLs explicit).
func TestGomdbCallPath(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	c := connect(t, map[string]string{"search_path": "message_store,public"})
	stream := newStream("gomdb")
	cat := strings.SplitN(stream, "-", 2)[0]
	var pos int64
	if err := c.QueryRow(ctx, `SELECT write_message($1, $2, $3, $4, $5, $6)`,
		uuid.NewString(), stream, "Opened", `{"a":1}`, nil, nil).Scan(&pos); err != nil || pos != 0 {
		t.Fatalf("write_message = %d, %v", pos, err)
	}
	if err := c.QueryRow(ctx, `SELECT write_message($1, $2, $3, $4, $5, $6)`,
		uuid.NewString(), stream, "Deposited", `{"b":2}`, `{"correlationStreamName":"x-1"}`, 0).Scan(&pos); err != nil || pos != 1 {
		t.Fatalf("write_message = %d, %v", pos, err)
	}
	err := c.QueryRow(ctx, `SELECT write_message($1, $2, $3, $4, $5, $6)`,
		uuid.NewString(), stream, "Deposited", `{}`, nil, 0).Scan(&pos)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "Wrong expected version") {
		t.Fatalf("conflict = %v", err)
	}
	if got := mustRows(t)(c.Query(ctx, `SELECT * FROM get_stream_messages($1, $2, $3, $4)`, stream, 0, 1000, nil)); len(got) != 2 {
		t.Fatalf("get_stream_messages: %d", len(got))
	}
	if got := mustRows(t)(c.Query(ctx, `SELECT * FROM get_category_messages($1, $2, $3, $4, $5, $6, $7)`,
		cat, 1, 1000, nil, nil, nil, nil)); len(got) != 2 {
		t.Fatalf("get_category_messages: %d", len(got))
	}
	if got := mustRows(t)(c.Query(ctx, `SELECT * FROM get_category_messages($1, $2, $3, $4, $5, $6, $7)`,
		cat, 1, 1000, "x", nil, nil, nil)); len(got) != 1 {
		t.Fatalf("correlated get_category_messages: %d", len(got))
	}
	if got := mustRows(t)(c.Query(ctx, `SELECT * FROM get_last_stream_message($1)`, stream)); len(got) != 1 || got[0].Type != "Deposited" {
		t.Fatalf("get_last_stream_message: %v", got)
	}
	var v int64
	if err := c.QueryRow(ctx, `SELECT stream_version($1)`, stream).Scan(&v); err != nil || v != 1 {
		t.Fatalf("stream_version = %d, %v", v, err)
	}
}

// TestSearchPathIndependence calls the qualified functions from connections whose search_path does not
// include message_store at all (Message DB's issues #24, #42, #49), including the condition path.
func TestSearchPathIndependence(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", "public", "pg_catalog", "nothing_here"} {
		t.Run(fmt.Sprintf("search_path=%q", path), func(t *testing.T) {
			ctx := testCtx(t)
			params := map[string]string{"message_store.sql_condition": "on"}
			if path != "" {
				params["search_path"] = path
			}
			c := connect(t, params)
			stream := newStream("path")
			cat := strings.SplitN(stream, "-", 2)[0]
			for i := int64(0); i < 3; i++ {
				if pos := mustWrite(t, c, stream, "T", `{}`, fmt.Sprintf(`{"correlationStreamName": "corr-%d"}`, i)); pos != i {
					t.Fatalf("position %d, want %d", pos, i)
				}
			}
			if _, err := c.Exec(ctx, writeToStreamsSQL, []string{uuid.NewString()}, []string{newStream("pathmulti")},
				[]string{"T"}, []string{`{}`}, nil); err != nil {
				t.Fatalf("write_messages_to_streams: %v", err)
			}
			if _, err := c.Exec(ctx, `SELECT message_store.acquire_lock($1), message_store.stream_version($1),
				message_store.message_store_version(), message_store.is_category($1), message_store.cardinal_id($1)`, stream); err != nil {
				t.Fatal(err)
			}
			reads := map[string][]any{
				`SELECT * FROM message_store.get_stream_messages($1)`:                                           {stream},
				`SELECT * FROM message_store.get_stream_messages($1, 0, 1000, 'messages.position >= 0')`:        {stream},
				`SELECT * FROM message_store.get_category_messages($1)`:                                         {cat},
				`SELECT * FROM message_store.get_category_messages($1, 1, 1000, 'corr')`:                        {cat},
				`SELECT * FROM message_store.get_category_messages($1, 1, 1000, 'corr', 0, 1)`:                  {cat},
				`SELECT * FROM message_store.get_category_messages($1, 1, 1000, NULL, 0, 1)`:                    {cat},
				`SELECT * FROM message_store.get_category_messages($1, 1, 1000, NULL, NULL, NULL, 'true')`:      {cat},
				`SELECT * FROM message_store.get_category_messages($1, 1, 1000, 'corr', 0, 1, 'position >= 0')`: {cat},
			}
			for sql, args := range reads {
				if got := mustRows(t)(c.Query(ctx, sql, args...)); len(got) != 3 {
					t.Errorf("%s: %d messages, want 3", sql, len(got))
				}
			}
			if got := mustRows(t)(c.Query(ctx, `SELECT * FROM message_store.get_last_stream_message($1, 'T')`, stream)); len(got) != 1 {
				t.Errorf("get_last_stream_message: %d", len(got))
			}
			if _, err := c.Exec(ctx, `SELECT * FROM message_store.stream_summary LIMIT 1`); err != nil {
				t.Error(err)
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------------
// Views

func TestViews(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("view")
	typeA, typeB := newCategory("TypeA"), newCategory("TypeB")
	s1, s2 := cat+"-1", cat+"-2"
	for _, w := range []struct{ s, typ string }{{s1, typeA}, {s1, typeA}, {s1, typeB}, {s2, typeA}} {
		mustWrite(t, pool, w.s, w.typ, `{}`, nil)
	}
	// Full-table aggregates while other tests write: read the views and the total in one snapshot.
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var total int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM message_store.messages`).Scan(&total); err != nil {
			return err
		}
		// The contract's formula, with numeric rounding (half away from zero), not float formatting.
		pct := func(n int64) string {
			var p string
			if err := tx.QueryRow(ctx, `SELECT round($1::bigint / $2::bigint::decimal * 100, 2)::text`, n, total).Scan(&p); err != nil {
				t.Error(err)
			}
			return p
		}
		check := func(sql string, args []any, want []string) error {
			rows, err := tx.Query(ctx, sql, args...)
			if err != nil {
				return err
			}
			var got []string
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					return err
				}
				var parts []string
				for _, v := range vals {
					parts = append(parts, fmt.Sprint(v))
				}
				got = append(got, strings.Join(parts, " "))
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if !equalSlices(got, want) {
				return fmt.Errorf("%s: %q, want %q", sql, got, want)
			}
			return nil
		}
		checks := []struct {
			sql  string
			args []any
			want []string
		}{
			{`SELECT stream_name, message_count, percent::text FROM message_store.stream_summary WHERE stream_name IN ($1, $2)`, []any{s1, s2},
				[]string{fmt.Sprintf("%s 3 %s", s1, pct(3)), fmt.Sprintf("%s 1 %s", s2, pct(1))}},
			{`SELECT type, message_count, percent::text FROM message_store.type_summary WHERE type IN ($1, $2)`, []any{typeA, typeB},
				[]string{fmt.Sprintf("%s 3 %s", typeA, pct(3)), fmt.Sprintf("%s 1 %s", typeB, pct(1))}},
			{`SELECT stream_name, type, message_count, percent::text FROM message_store.stream_type_summary WHERE stream_name IN ($1, $2)`, []any{s1, s2},
				[]string{fmt.Sprintf("%s %s 2 %s", s1, typeA, pct(2)), fmt.Sprintf("%s %s 1 %s", s1, typeB, pct(1)), fmt.Sprintf("%s %s 1 %s", s2, typeA, pct(1))}},
			{`SELECT type, stream_name, message_count, percent::text FROM message_store.type_stream_summary WHERE type IN ($1, $2)`, []any{typeA, typeB},
				[]string{fmt.Sprintf("%s %s 2 %s", typeA, s1, pct(2)), fmt.Sprintf("%s %s 1 %s", typeA, s2, pct(1)), fmt.Sprintf("%s %s 1 %s", typeB, s1, pct(1))}},
			{`SELECT category, type, message_count, percent::text FROM message_store.category_type_summary WHERE category = $1`, []any{cat},
				[]string{fmt.Sprintf("%s %s 3 %s", cat, typeA, pct(3)), fmt.Sprintf("%s %s 1 %s", cat, typeB, pct(1))}},
			{`SELECT type, category, message_count, percent::text FROM message_store.type_category_summary WHERE category = $1`, []any{cat},
				[]string{fmt.Sprintf("%s %s 3 %s", typeA, cat, pct(3)), fmt.Sprintf("%s %s 1 %s", typeB, cat, pct(1))}},
		}
		for _, c := range checks {
			if err := check(c.sql, c.args, c.want); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Column names and types.
	rows, err := pool.Query(ctx, `
		SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'message_store' AND table_name LIKE '%summary'
		GROUP BY table_name ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var name, cols string
		if err := rows.Scan(&name, &cols); err != nil {
			t.Fatal(err)
		}
		got[name] = cols
	}
	want := map[string]string{
		"stream_summary":        "stream_name text, message_count bigint, percent numeric",
		"type_summary":          "type text, message_count bigint, percent numeric",
		"stream_type_summary":   "stream_name text, type text, message_count bigint, percent numeric",
		"type_stream_summary":   "type text, stream_name text, message_count bigint, percent numeric",
		"category_type_summary": "category character varying, type text, message_count bigint, percent numeric",
		"type_category_summary": "type text, category character varying, message_count bigint, percent numeric",
	}
	for name, cols := range want {
		if got[name] != cols {
			t.Errorf("view %s: %q, want %q", name, got[name], cols)
		}
	}
}

// ---------------------------------------------------------------------------------------------------
// write_messages (ours)

func TestWriteMessages(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("batch")
	const q = `SELECT message_store.write_messages($1, $2, $3, $4::jsonb[], $5::jsonb[], $6)`
	ids := []string{uuid.NewString(), strings.ToUpper(uuid.NewString()), uuid.NewString()}
	var last int64
	if err := pool.QueryRow(ctx, q, stream, ids, []string{"A", "B", "C"}, []string{`{"i":0}`, `{"i":1}`, `{"i":2}`},
		nil, -1).Scan(&last); err != nil || last != 2 {
		t.Fatalf("write_messages = %d, %v", last, err)
	}
	got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1)`, stream))
	if !equalSlices(positions(got), []int64{0, 1, 2}) || got[1].ID != strings.ToLower(ids[1]) || got[2].Type != "C" ||
		got[0].Metadata != nil || got[0].GlobalPosition >= got[1].GlobalPosition || got[1].GlobalPosition >= got[2].GlobalPosition {
		t.Fatalf("batch read back as %+v", got)
	}
	if err := pool.QueryRow(ctx, q, stream, []string{uuid.NewString()}, []string{"D"}, []string{`{}`},
		[]string{`{"correlationStreamName": "c-1"}`}, 2).Scan(&last); err != nil || last != 3 {
		t.Fatalf("write_messages = %d, %v", last, err)
	}
	_, err := pool.Exec(ctx, q, stream, []string{"bad"}, []string{"E"}, []string{`{}`}, nil, 0)
	wantPgError(t, err, "P0001", fmt.Sprintf("Wrong expected version: 0 (Stream: %s, Stream Version: 3)", stream))
	_, err = pool.Exec(ctx, q, stream, []string{uuid.NewString(), "bad"}, []string{"E", "F"}, []string{`{}`, `{}`}, nil, nil)
	wantPgError(t, err, "22P02", `invalid input syntax for type uuid: "bad"`)
	_, err = pool.Exec(ctx, q, stream, []string{ids[0]}, []string{"E"}, []string{`{}`}, nil, nil)
	wantPgError(t, err, "23505", `duplicate key value violates unique constraint "messages_id"`)
	_, err = pool.Exec(ctx, q, stream, []string{uuid.NewString()}, []string{"E", "F"}, []string{`{}`}, nil, nil)
	wantPgError(t, err, "22023", "")
	_, err = pool.Exec(ctx, q, stream, []string{uuid.NewString()}, []string{"E"}, []string{`{}`}, []string{`{}`, `{}`}, nil)
	wantPgError(t, err, "22023", "")
	// Nothing of the failed batches stays; an empty batch writes nothing and returns the version.
	if err := pool.QueryRow(ctx, q, stream, []string{}, []string{}, []string{}, nil, nil).Scan(&last); err != nil || last != 3 {
		t.Fatalf("empty write_messages = %d, %v", last, err)
	}
	if err := pool.QueryRow(ctx, q, newStream("empty"), []string{}, []string{}, []string{}, nil, nil).Scan(&last); err != nil || last != -1 {
		t.Fatalf("empty write_messages to an empty stream = %d, %v", last, err)
	}
}

// write_messages_to_streams (ours, 00006)

const writeToStreamsSQL = `SELECT message_store.write_messages_to_streams($1, $2, $3, $4::jsonb[], $5::jsonb[])`

// TestWriteMessagesToStreams: one call gives every message the position and global order that one
// write_message per message, in array order, gives.
func TestWriteMessagesToStreams(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	catA, catB := newCategory("multiA"), newCategory("multiB")
	a1, a2, b1 := catA+"-1", catA+"-2", catB+"-1"
	mustWrite(t, pool, a2, "Before", `{}`, nil) // a2 is at version 0 already
	streams := []string{a1, a2, a1, b1, a2, a1}
	ids := make([]string, len(streams))
	types := make([]string, len(streams))
	data := make([]string, len(streams))
	for i := range streams {
		ids[i], types[i], data[i] = uuid.NewString(), fmt.Sprintf("T%d", i), fmt.Sprintf(`{"i": %d}`, i)
	}
	ids[3] = strings.ToUpper(ids[3])
	metadata := []string{`{"a": 1}`, `{}`, `{}`, `{"correlationStreamName": "corr-1"}`, `{}`, `{}`}
	var got []int64
	if err := pool.QueryRow(ctx, writeToStreamsSQL, ids, streams, types, data, metadata).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 1, 1, 0, 2, 2}; !equalSlices(got, want) {
		t.Fatalf("positions %v, want %v", got, want)
	}
	// Read back in global order: array order, each message where write_message would have put it.
	rows := mustRows(t)(pool.Query(ctx, `SELECT id::varchar, stream_name, type, position, global_position,
		data::varchar, metadata::varchar, time FROM message_store.messages
		WHERE id = ANY($1::uuid[]) ORDER BY global_position`, ids))
	if len(rows) != len(ids) {
		t.Fatalf("%d rows written, want %d", len(rows), len(ids))
	}
	for i, m := range rows {
		if m.ID != strings.ToLower(ids[i]) || m.StreamName != streams[i] || m.Type != types[i] || m.Position != got[i] ||
			m.Data == nil || *m.Data != fmt.Sprintf(`{"i": %d}`, i) || m.Metadata == nil {
			t.Fatalf("row %d = %+v, want message %d of the batch", i, m, i)
		}
	}
	if m := rows[3].Metadata; *m != `{"correlationStreamName": "corr-1"}` {
		t.Fatalf("metadata %s", *m)
	}
	// The correlation index and the category read see the batch like any other write.
	if got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, 1, 1000, 'corr')`, catB)); len(got) != 1 {
		t.Fatalf("correlated read: %d messages", len(got))
	}
	// metadata NULL: no message has metadata.
	if err := pool.QueryRow(ctx, writeToStreamsSQL, []string{uuid.NewString(), uuid.NewString()}, []string{b1, a1},
		[]string{"X", "Y"}, []string{`{}`, `{}`}, nil).Scan(&got); err != nil || !equalSlices(got, []int64{1, 3}) {
		t.Fatalf("without metadata: %v, %v", got, err)
	}
	last := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_last_stream_message($1)`, a1))
	if len(last) != 1 || last[0].Position != 3 || last[0].Metadata != nil {
		t.Fatalf("last message of %s: %+v", a1, last)
	}
	// An empty batch writes nothing.
	if err := pool.QueryRow(ctx, writeToStreamsSQL, []string{}, []string{}, []string{}, []string{}, nil).Scan(&got); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("empty batch: %v, %v", got, err)
	}
}

// TestWriteMessagesToStreamsErrors: write_message's element errors, and any error writes nothing.
func TestWriteMessagesToStreamsErrors(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("multiErr")
	s1, s2 := cat+"-1", cat+"-2"
	existing := uuid.NewString()
	if _, err := pool.Exec(ctx, `SELECT message_store.write_message($1, $2, 'T', '{}')`, existing, s1); err != nil {
		t.Fatal(err)
	}
	fresh := func() string { return uuid.NewString() }
	twice := fresh()
	cases := []struct {
		name                string
		ids, streams, types []string
		data                []string
		metadata            []string
		code, msg           string
	}{
		{"malformed id", []string{fresh(), "bad"}, []string{s1, s2}, []string{"A", "B"}, []string{`{}`, `{}`}, nil,
			"22P02", `invalid input syntax for type uuid: "bad"`},
		{"id already stored", []string{fresh(), existing}, []string{s2, s2}, []string{"A", "B"}, []string{`{}`, `{}`}, nil,
			"23505", `duplicate key value violates unique constraint "messages_id"`},
		{"id twice in the batch", []string{twice, twice}, []string{s1, s2}, []string{"A", "B"}, []string{`{}`, `{}`}, nil,
			"23505", `duplicate key value violates unique constraint "messages_id"`},
		{"lengths differ", []string{fresh()}, []string{s1, s2}, []string{"A"}, []string{`{}`}, nil, "22023", ""},
		{"metadata length differs", []string{fresh()}, []string{s1}, []string{"A"}, []string{`{}`}, []string{`{}`, `{}`}, "22023", ""},
	}
	for _, c := range cases {
		var md any
		if c.metadata != nil {
			md = c.metadata
		}
		_, err := pool.Exec(ctx, writeToStreamsSQL, c.ids, c.streams, c.types, c.data, md)
		t.Run(c.name, func(t *testing.T) { wantPgError(t, err, c.code, c.msg) })
	}
	// NULL elements: 23502, naming the column, like write_message.
	nulls := []struct {
		name string
		sql  string
		col  string
	}{
		{"NULL stream name", `SELECT message_store.write_messages_to_streams(ARRAY[$1, $2]::varchar[], ARRAY[$3, NULL]::varchar[], '{A,B}', '{"{}","{}"}')`, "stream_name"},
		{"NULL type", `SELECT message_store.write_messages_to_streams(ARRAY[$1, $2]::varchar[], ARRAY[$3, $3]::varchar[], ARRAY['A', NULL]::varchar[], '{"{}","{}"}')`, "type"},
		{"NULL id", `SELECT message_store.write_messages_to_streams(ARRAY[$1, NULL]::varchar[], ARRAY[$3, $3]::varchar[], '{A,B}', '{"{}","{}"}') WHERE $2::varchar IS NOT NULL`, "id"},
	}
	for _, c := range nulls {
		_, err := pool.Exec(ctx, c.sql, fresh(), fresh(), s2)
		t.Run(c.name, func(t *testing.T) {
			wantPgError(t, err, "23502", fmt.Sprintf(`null value in column "%s" of relation "messages" violates not-null constraint`, c.col))
		})
	}
	// Nothing of the failed batches stays.
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM message_store.messages WHERE stream_name IN ($1, $2)`, s1, s2).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d messages in the category after failed batches (%v), want 1", n, err)
	}
}

// TestWriteMessagesToStreamsConcurrently: batches to overlapping streams of one category, racing each
// other and single write_message calls, never fail and leave no gaps; each caller's messages keep
// their order within a stream.
func TestWriteMessagesToStreamsConcurrently(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("multiRace")
	streams := []string{cat + "-1", cat + "-2", cat + "-3"}
	const writers, rounds = 6, 15
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for r := 0; r < rounds; r++ {
				if w == 0 {
					if _, err := write(ctx, pool, streams[r%3], "T", fmt.Sprintf(`{"w": %d, "r": %d, "k": 0}`, w, r), nil, nil); err != nil {
						errs <- err
						return
					}
					continue
				}
				var ids, ss, types, data []string
				for k := 0; k < 4; k++ {
					ids = append(ids, uuid.NewString())
					ss = append(ss, streams[(w+k)%3])
					types = append(types, "T")
					data = append(data, fmt.Sprintf(`{"w": %d, "r": %d, "k": %d}`, w, r, k))
				}
				if _, err := pool.Exec(ctx, writeToStreamsSQL, ids, ss, types, data, nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, s := range streams {
		rows, err := pool.Query(ctx, `SELECT position, (data->>'w')::int, (data->>'r')::int, (data->>'k')::int
			FROM message_store.messages WHERE stream_name = $1 ORDER BY global_position`, s)
		if err != nil {
			t.Fatal(err)
		}
		last := map[int][2]int{}
		i := int64(0)
		for rows.Next() {
			var pos int64
			var w, r, k int
			if err := rows.Scan(&pos, &w, &r, &k); err != nil {
				t.Fatal(err)
			}
			if pos != i {
				t.Fatalf("%s: position %d at index %d (gap, duplicate or out of global order)", s, pos, i)
			}
			if prev, ok := last[w]; ok && (r < prev[0] || (r == prev[0] && k <= prev[1])) {
				t.Fatalf("%s: writer %d's message (%d, %d) after (%d, %d)", s, w, r, k, prev[0], prev[1])
			}
			last[w] = [2]int{r, k}
			i++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		total += int(i)
	}
	if want := rounds + (writers-1)*rounds*4; total != want {
		t.Fatalf("%d messages, want %d", total, want)
	}
}

// ---------------------------------------------------------------------------------------------------
// Concurrency guarantees

// TestConcurrentWritersOneStream: writers to one stream without an expected version never fail and
// leave no gaps.
func TestConcurrentWritersOneStream(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("race")
	const writers, each = 8, 25
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for i := 0; i < each; i++ {
				var err error
				if i%5 == 0 { // some in two-message transactions
					err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
						if _, err := write(ctx, tx, stream, "T", `{}`, nil, nil); err != nil {
							return err
						}
						_, err := write(ctx, tx, stream, "T", `{}`, nil, nil)
						return err
					})
				} else {
					_, err = write(ctx, pool, stream, "T", `{}`, nil, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, 0, -1)`, stream))
	want := writers * (each + each/5)
	if len(got) != want {
		t.Fatalf("%d messages, want %d", len(got), want)
	}
	for i, m := range got {
		if m.Position != int64(i) {
			t.Fatalf("position %d at index %d: gap or duplicate", m.Position, i)
		}
	}
}

// TestRacingExpectedVersion: writers with the same expected version race; exactly one wins and every
// other gets the Wrong expected version error (never 23505). A session holding the category lock lines
// them all up first, so they really do race.
func TestRacingExpectedVersion(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("ev")
	mustWrite(t, pool, stream, "T", `{}`, nil) // version 0
	const racers = 8

	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Rollback(ctx)
	var key int64
	if err := blocker.QueryRow(ctx, `SELECT message_store.acquire_lock($1)`, stream).Scan(&key); err != nil {
		t.Fatal(err)
	}
	type result struct {
		pos int64
		err error
	}
	results := make(chan result, racers)
	for i := 0; i < racers; i++ {
		go func() {
			pos, err := write(ctx, pool, stream, "T", `{}`, nil, 0)
			results <- result{pos, err}
		}()
	}
	// Wait until every racer waits for the category lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND ((classid::bigint << 32) | objid::bigint) = $1`, key).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == racers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writers wait for the category lock", waiting, racers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := blocker.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wins := 0
	for i := 0; i < racers; i++ {
		r := <-results
		if r.err == nil {
			wins++
			if r.pos != 1 {
				t.Errorf("winner wrote position %d", r.pos)
			}
			continue
		}
		wantPgError(t, r.err, "P0001", fmt.Sprintf("Wrong expected version: 0 (Stream: %s, Stream Version: 1)", stream))
	}
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
}

// TestCategoryReadsArePrefixes: while writers to several streams of one category hold their
// transactions open for a while, every category read is a prefix of every later read, and a reader
// resuming after the last global position it saw ends up with exactly the final category (no message
// became visible behind its position).
func TestCategoryReadsArePrefixes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("prefix")
	stop := make(chan struct{})
	const writers = 4
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					stream := fmt.Sprintf("%s-%d", cat, w*1000+i%3)
					if _, err := write(ctx, tx, stream, "T", `{}`, nil, nil); err != nil {
						return err
					}
					time.Sleep(time.Duration(1+(w*7+i)%4) * time.Millisecond) // commit late
					_, err := write(ctx, tx, stream, "T", `{}`, nil, nil)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}

	var resumed, previous []int64
	next := int64(1)
	readAll := func() []int64 {
		return globalPositions(mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, 1, -1)`, cat)))
	}
	check := func() {
		batch := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, $2, 7)`, cat, next))
		for _, m := range batch {
			resumed = append(resumed, m.GlobalPosition)
			next = m.GlobalPosition + 1
		}
		full := readAll()
		if len(full) < len(previous) || !equalSlices(full[:len(previous)], previous) {
			t.Fatalf("a later read is not an extension of an earlier one")
		}
		previous = full
	}
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		check()
	}
	close(stop)
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for {
		before := len(resumed)
		check()
		if len(resumed) == before {
			break
		}
	}
	final := readAll()
	if len(final) < 20 {
		t.Fatalf("only %d messages written; the test proves little", len(final))
	}
	if !equalSlices(resumed, final) {
		t.Fatalf("the resuming reader saw %d messages, the category has %d: a message appeared behind its position", len(resumed), len(final))
	}
}

// ---------------------------------------------------------------------------------------------------
// get_all_messages (ours): the gap-free store-wide reader

type allRow struct {
	m  msg
	tx uint64
}

func readAllAfter(ctx context.Context, q querier, tx uint64, gp int64, batch any) ([]allRow, error) {
	rows, err := q.Query(ctx, `SELECT id, stream_name, type, position, global_position, data, metadata, time, transaction_id::text::bigint
		FROM message_store.get_all_messages($1::text::xid8, $2, $3)`, fmt.Sprint(tx), gp, batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []allRow
	for rows.Next() {
		var r allRow
		var txid int64
		if err := rows.Scan(&r.m.ID, &r.m.StreamName, &r.m.Type, &r.m.Position, &r.m.GlobalPosition, &r.m.Data, &r.m.Metadata, &r.m.Time, &txid); err != nil {
			return nil, err
		}
		r.tx = uint64(txid)
		out = append(out, r)
	}
	return out, rows.Err()
}

// horizon is the start of a reader that wants only what is written from now on: every transaction
// below the current xmin has ended, later ones get larger ids (and the messages larger positions).
func horizon(t *testing.T) (uint64, int64) {
	t.Helper()
	var h, gp int64
	if err := pool.QueryRow(testCtx(t), `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
		(SELECT coalesce(max(global_position), 0) FROM message_store.messages)`).Scan(&h, &gp); err != nil {
		t.Fatal(err)
	}
	return uint64(h), gp
}

func TestGetAllMessagesOutOfOrderCommit(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	start, startGP := horizon(t)
	a, b := newStream("allA"), newStream("allB") // two categories: no shared lock

	txA, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(ctx)
	if _, err := write(ctx, txA, a, "T", `{}`, nil, nil); err != nil { // older transaction, commits last
		t.Fatal(err)
	}
	mustWrite(t, pool, b, "T", `{}`, nil) // younger transaction, committed first

	mine := func(rows []allRow) []string {
		var out []string
		for _, r := range rows {
			if r.m.StreamName == a || r.m.StreamName == b {
				out = append(out, r.m.StreamName)
			}
		}
		return out
	}
	rows, err := readAllAfter(ctx, pool, start, startGP, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := mine(rows); len(got) != 0 {
		// B is committed, but A (older) is still open: B must wait, or a reader would pass A by.
		t.Fatalf("read %v while an older transaction was open", got)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, err = readAllAfter(ctx, pool, start, startGP, -1)
		if err != nil {
			t.Fatal(err)
		}
		if got := mine(rows); len(got) == 2 {
			if got[0] != a || got[1] != b {
				t.Fatalf("order %v, want the older transaction first", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages never became readable: %v", mine(rows))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Strictly after: resuming from a row excludes it; batch sizes as everywhere.
	var ra allRow
	for _, r := range rows {
		if r.m.StreamName == a {
			ra = r
		}
	}
	after, err := readAllAfter(ctx, pool, ra.tx, ra.m.GlobalPosition, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := mine(after); len(got) != 1 || got[0] != b {
		t.Fatalf("after A: %v", got)
	}
	if got, err := readAllAfter(ctx, pool, start, startGP, 0); err != nil || len(got) != 0 {
		t.Fatalf("batch 0: %d, %v", len(got), err)
	}
	if got, err := readAllAfter(ctx, pool, start, startGP, 1); err != nil || len(got) != 1 {
		t.Fatalf("batch 1: %d, %v", len(got), err)
	}
	_, err = readAllAfter(ctx, pool, start, startGP, -2)
	wantPgError(t, err, "2201W", "LIMIT must not be negative")
}

// TestGetAllMessagesNeverSkips: writers in different categories commit out of order while a reader
// resumes from the last (transaction_id, global_position) it saw; in the end it has seen every
// message, each once.
func TestGetAllMessagesNeverSkips(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	prefix := newCategory("skip")
	start, startGP := horizon(t)
	stop := make(chan struct{})
	const writers = 4
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					stream := fmt.Sprintf("%s%d-%d", prefix, w, i) // a category per writer
					if _, err := write(ctx, tx, stream, "T", `{}`, nil, nil); err != nil {
						return err
					}
					time.Sleep(time.Duration(1+(w*5+i)%4) * time.Millisecond) // commit late
					_, err := write(ctx, tx, stream, "T", `{}`, nil, nil)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}(w)
	}
	seen := map[int64]bool{}
	tx, gp := start, startGP
	poll := func() int {
		// A reader that keeps up with the head: that is where a skip would happen.
		rows, err := readAllAfter(ctx, pool, tx, gp, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if strings.HasPrefix(r.m.StreamName, prefix) {
				if seen[r.m.GlobalPosition] {
					t.Fatalf("global position %d read twice", r.m.GlobalPosition)
				}
				seen[r.m.GlobalPosition] = true
			}
			tx, gp = r.tx, r.m.GlobalPosition
		}
		return len(rows)
	}
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		poll()
	}
	close(stop)
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var total int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM message_store.messages WHERE stream_name LIKE $1 || '%'`, prefix).Scan(&total); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(seen) < total && time.Now().Before(deadline) {
		if poll() == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if total < 20 {
		t.Fatalf("only %d messages written; the test proves little", total)
	}
	if len(seen) != total {
		t.Fatalf("the reader saw %d of %d messages", len(seen), total)
	}
}

// ---------------------------------------------------------------------------------------------------
// 00004: get_category_messages inlined into the caller's query

// TestGetCategoryMessagesIsInlined: a plain or consumer-group read becomes an ordered range scan of
// messages_category in the caller's own plan (no Function Scan, no tuplestore), under a generic plan
// too; correlated reads and reads with a condition go through category_read_plpgsql.
//
// The plans are taken with bitmap scans off: the category read here has no rows, and once the table
// has statistics (TestGetCategoryMessagesGenericPlanOnAnalyzedStore analyzes it, in parallel) the
// planner rightly reads an estimated one row with a bitmap scan and a sort. What this test pins is the
// shape the inlined call can take; which plan the planner picks on a real store is
// TestGetCategoryMessagesGenericPlanOnAnalyzedStore's to check.
func TestGetCategoryMessagesIsInlined(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	explain := func(query string) string {
		t.Helper()
		return explainWith(t, []string{"enable_bitmapscan = off"}, func(tx pgx.Tx) (string, error) {
			return explainLines(ctx, tx, `EXPLAIN `+query)
		})
	}
	inlined := func(p string) bool {
		return strings.Contains(p, "Index Scan using messages_category on") && !strings.Contains(p, "Sort") &&
			!strings.Contains(p, "Function Scan on get_category_messages")
	}
	for _, q := range []string{
		`SELECT * FROM message_store.get_category_messages('x', 1, 1000)`,
		`SELECT * FROM message_store.get_category_messages('x', 1, 1000, NULL, 1, 4)`,
	} {
		if p := explain(q); !inlined(p) || strings.Contains(p, "category_read_plpgsql") {
			t.Errorf("%s is not an inlined ordered scan of messages_category:\n%s", q, p)
		}
	}
	p := genericPlan(t, `SELECT * FROM message_store.get_category_messages($1, $2, $3, $4, $5, $6, $7)`,
		`'x', 1, 1000, NULL, NULL, NULL, NULL`, "enable_bitmapscan = off")
	if !inlined(p) {
		t.Errorf("generic plan is not an inlined ordered scan of messages_category:\n%s", p)
	}
	for _, q := range []string{
		`SELECT * FROM message_store.get_category_messages('x', 1, 1000, 'y')`,
		`SELECT * FROM message_store.get_category_messages('x', 1, 1000, NULL, NULL, NULL, 'true')`,
	} {
		if p := explain(q); !strings.Contains(p, "Function Scan on category_read_plpgsql") ||
			strings.Contains(p, "Index Scan using messages_category on") {
			t.Errorf("%s does not go (only) through category_read_plpgsql:\n%s", q, p)
		}
	}
}

// TestGetCategoryMessagesGenericPlanOnAnalyzedStore: on an analyzed store of some 90,000 messages,
// the generic plan of a category read -- what a client that prepares its statements gets after five
// calls -- is still the ordered scan of messages_category, for a plain and a consumer-group read, not a
// bitmap scan of the rest of the category and a sort (what 00004's consumer-group filter led to).
func TestGetCategoryMessagesGenericPlanOnAnalyzedStore(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat, other := newCategory("planA"), newCategory("planB")
	if _, err := pool.Exec(ctx, `
		INSERT INTO message_store.messages (stream_name, position, type, data, metadata)
		SELECT CASE WHEN g % 2 = 0 THEN $1 ELSE $2 END || '-' || (g / 2 % 1000), g / 2000, 'Viewed',
		       '{"videoId": "0b6c42b7-6f3a-4d55-9d36-6f0f8d0b1c2a"}', '{"traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11"}'
		FROM generate_series(0, 79999) AS g`, cat, other); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE message_store.messages`); err != nil {
		t.Fatal(err)
	}
	for _, args := range []string{
		fmt.Sprintf(`'%s', 1, 1000, NULL, NULL, NULL, NULL`, cat),
		fmt.Sprintf(`'%s', 1, 1000, NULL, 0, 4, NULL`, cat),
	} {
		p := genericPlan(t, `SELECT * FROM message_store.get_category_messages($1, $2, $3, $4, $5, $6, $7)`, args)
		if !strings.Contains(p, "Index Scan using messages_category on") || strings.Contains(p, "Sort") ||
			strings.Contains(p, "Bitmap") {
			t.Errorf("generic plan for (%s) is not the ordered scan of messages_category:\n%s", args, p)
		}
	}
}

// TestGetCategoryMessagesPlansAgree: the inlined function under custom and generic plans returns what
// 00003's PL/pgSQL body (category_read_plpgsql) returns, raises the same errors (also for batch_size 0,
// which fetches nothing), and raises its debug NOTICEs exactly once per call.
func TestGetCategoryMessagesPlansAgree(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cat := newCategory("agree")
	var streams []string
	for i := 0; i < 12; i++ {
		id := uuid.NewString()
		streams = append(streams, cat+"-"+id, cat+"-"+id+"+a")
	}
	streams = append(streams, cat, cat+"-", cat+"-+x", cat+"X-1", cat+":command-1")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i, s := range streams {
			var md any
			switch i % 3 {
			case 0:
				md = fmt.Sprintf(`{"correlationStreamName": "%sCorr-%d"}`, cat, i)
			case 1:
				md = `{"traceId": "t"}`
			}
			if _, err := write(ctx, tx, s, fmt.Sprintf("T%d", i%2), `{"n": 1}`, md, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := mustRows(t)(pool.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, 1, -1)`, cat))[0].GlobalPosition

	type args []any // category, position, batch_size, correlation, member, size, condition
	calls := []args{
		{cat, nil, nil, nil, nil, nil, nil},
		{cat, first + 5, nil, nil, nil, nil, nil},
		{cat, int64(-3), int64(4), nil, nil, nil, nil},
		{cat, nil, int64(-1), nil, nil, nil, nil},
		{cat, nil, int64(0), nil, nil, nil, nil},
		{cat, nil, nil, nil, int64(0), int64(3), nil},
		{cat, nil, int64(2), nil, int64(2), int64(3), nil},
		{cat, nil, nil, cat + "Corr", nil, nil, nil},
		{cat, nil, int64(3), cat + "Corr", int64(1), int64(2), nil},
		{cat, nil, nil, nil, nil, nil, `messages.type = 'T1'`},
		{cat, nil, int64(2), nil, int64(0), int64(2), `messages.type = 'T0'`},
		{nil, nil, nil, nil, nil, nil, nil},
		{"agreeNone" + cat, nil, nil, nil, nil, nil, nil},
		// Errors, each also with batch_size 0.
		{cat + "-1", nil, nil, nil, nil, nil, nil},
		{cat + "-1", nil, int64(0), "a-b", int64(1), nil, nil},
		{cat, nil, int64(0), "corr-1", nil, nil, nil},
		{cat, nil, int64(0), nil, int64(1), nil, nil},
		{cat, nil, int64(0), nil, nil, int64(2), nil},
		{cat, nil, int64(0), nil, int64(0), int64(0), nil},
		{cat, nil, int64(0), nil, int64(-1), int64(2), nil},
		{cat, nil, int64(0), nil, int64(2), int64(2), nil},
		{cat, nil, int64(0), nil, int64(50000), int64(40000), nil},
		{cat, nil, int64(0), nil, int64(0), int64(32768), nil},
		{cat, nil, int64(-2), nil, nil, nil, nil},
		{cat, nil, int64(-2), "corr", int64(0), int64(2), nil},
	}
	type outcome struct {
		rows    []int64
		err     string
		notices int
	}
	run := func(c *pgx.Conn, notices *int, fn string, a args) outcome {
		*notices = 0
		got, err := collect(c.Query(ctx, `SELECT * FROM message_store.`+fn+`($1, $2, $3, $4, $5, $6, $7)`, a...))
		o := outcome{rows: globalPositions(got), notices: *notices}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			o.err = pgErr.Code + " " + pgErr.Message
		} else if err != nil {
			t.Fatalf("%s%v: %v", fn, a, err)
		}
		return o
	}
	session := func(mode string) (*pgx.Conn, *int) {
		cfg, err := pgx.ParseConfig(testURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["plan_cache_mode"] = mode
		cfg.RuntimeParams["message_store.sql_condition"] = "on"
		cfg.RuntimeParams["message_store.debug_get"] = "on"
		notices := new(int)
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			if n.Message == "» get_category_messages" {
				*notices++
			}
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c, notices
	}
	ref, refNotices := session("auto")
	custom, customNotices := session("force_custom_plan")
	generic, genericNotices := session("force_generic_plan")
	for _, a := range calls {
		want := run(ref, refNotices, "category_read_plpgsql", a)
		if want.err == "" && want.notices != 1 {
			t.Errorf("category_read_plpgsql%v: %d debug notices", a, want.notices)
		}
		// Twice each: the second call of a prepared statement runs the plan cached by the first.
		for _, side := range []struct {
			name    string
			c       *pgx.Conn
			notices *int
		}{{"custom", custom, customNotices}, {"generic", generic, genericNotices}} {
			for i := 0; i < 2; i++ {
				got := run(side.c, side.notices, "get_category_messages", a)
				if !equalSlices(got.rows, want.rows) || got.err != want.err || got.notices != want.notices {
					t.Errorf("%s plan, get_category_messages%v = %+v, PL/pgSQL gives %+v", side.name, a, got, want)
				}
			}
		}
	}
}

// TestGetStreamMessagesIsInlined: a stream read without a condition is a range scan of messages_stream in
// the caller's own plan, under a generic plan too; a read with a condition goes through
// stream_read_plpgsql.
func TestGetStreamMessagesIsInlined(t *testing.T) {
	t.Parallel()
	p := genericPlan(t, `SELECT * FROM message_store.get_stream_messages($1, $2, $3, $4)`, `'x-1', 0, 1000, NULL`)
	if !strings.Contains(p, "Index Scan using messages_stream on") || strings.Contains(p, "Sort") ||
		strings.Contains(p, "Function Scan on get_stream_messages") {
		t.Errorf("generic plan is not an inlined ordered scan of messages_stream:\n%s", p)
	}
	var plan strings.Builder
	rows, err := pool.Query(testCtx(t), `EXPLAIN SELECT * FROM message_store.get_stream_messages('x-1', 0, 1000, 'true')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if p := plan.String(); !strings.Contains(p, "Function Scan on stream_read_plpgsql") || strings.Contains(p, "messages_stream") {
		t.Errorf("a read with a condition does not go (only) through stream_read_plpgsql:\n%s", p)
	}
}

// TestGetStreamMessagesPlansAgree: the inlined get_stream_messages under custom and generic plans
// returns what 00001's PL/pgSQL body (stream_read_plpgsql) returns, raises the same errors (also for
// batch_size 0) and its debug NOTICEs exactly once per call -- none when it refuses the name or the
// condition, as Message DB (00008).
func TestGetStreamMessagesPlansAgree(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	stream := newStream("sagree")
	bare := newCategory("sagreeBare")
	for i := 0; i < 7; i++ {
		mustWrite(t, pool, stream, fmt.Sprintf("T%d", i%2), `{"n": 1}`, nil)
	}
	mustWrite(t, pool, bare, "T", `{}`, nil)
	type args []any // stream_name, position, batch_size, condition
	calls := []args{
		{stream, nil, nil, nil},
		{stream, int64(3), nil, nil},
		{stream, int64(-5), int64(2), nil},
		{stream, nil, int64(-1), nil},
		{stream, nil, int64(0), nil},
		{stream, int64(1), int64(3), `messages.type = 'T1'`},
		{stream + "x", nil, nil, nil},
		{bare, nil, nil, nil},
		{bare, nil, int64(0), nil},
		{nil, nil, int64(0), nil},
		{stream, nil, int64(-2), nil},
		{stream, nil, int64(-2), `true`},
	}
	type outcome struct {
		rows    []int64
		err     string
		notices int
	}
	session := func(mode, condition string) (*pgx.Conn, *int) {
		cfg, err := pgx.ParseConfig(testURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RuntimeParams["plan_cache_mode"] = mode
		cfg.RuntimeParams["message_store.sql_condition"] = condition
		cfg.RuntimeParams["message_store.debug_get"] = "on"
		notices := new(int)
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			if n.Message == "» get_stream_messages" {
				*notices++
			}
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c, notices
	}
	run := func(c *pgx.Conn, notices *int, fn string, a args) outcome {
		*notices = 0
		got, err := collect(c.Query(ctx, `SELECT * FROM message_store.`+fn+`($1, $2, $3, $4)`, a...))
		o := outcome{rows: positions(got), notices: *notices}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			o.err = pgErr.Code + " " + pgErr.Message
		} else if err != nil {
			t.Fatalf("%s%v: %v", fn, a, err)
		}
		return o
	}
	for _, condition := range []string{"on", "off"} {
		ref, refNotices := session("auto", condition)
		custom, customNotices := session("force_custom_plan", condition)
		generic, genericNotices := session("force_generic_plan", condition)
		for _, a := range calls {
			want := run(ref, refNotices, "stream_read_plpgsql", a)
			wantNotices := 1
			if strings.HasPrefix(want.err, "P0001 Must be") || want.err == "P0001 Retrieval with SQL condition is not activated" {
				wantNotices = 0
			}
			if want.notices != wantNotices {
				t.Errorf("stream_read_plpgsql%v (switch %s): %d debug notices, want %d", a, condition, want.notices, wantNotices)
			}
			for _, side := range []struct {
				name    string
				c       *pgx.Conn
				notices *int
			}{{"custom", custom, customNotices}, {"generic", generic, genericNotices}} {
				for i := 0; i < 2; i++ {
					got := run(side.c, side.notices, "get_stream_messages", a)
					if !equalSlices(got.rows, want.rows) || got.err != want.err || got.notices != want.notices {
						t.Errorf("%s plan, switch %s, get_stream_messages%v = %+v, PL/pgSQL gives %+v", side.name, condition, a, got, want)
					}
				}
			}
		}
	}
}
