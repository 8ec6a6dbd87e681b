package reliability

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestRebuild is scenario 7: after a load, every view table is dropped (with the view-data migration
// table) and every aggregator rewound to position 0; the program migrates afresh and the aggregators
// rebuild the views from the message store. The rebuilt views equal the ones before, row for row.
//
// (A second program with a fresh DATABASE_URL and MESSAGE_STORE_URL on the original database would
// not rebuild: subscription positions live in the message store, so it would start where the first
// left off. Dropping the tables in place is the rebuild that tests the aggregators.)
func TestRebuild(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 2)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 3, creators: []*creator{cr}})
	time.Sleep(scale(4*time.Second, 60*time.Second))
	ld.finish()
	// Log-ins show on the admin users' view too.
	if r, err := newClient(fixedBase(p)).logIn(l.registrations[0].email, "a password of a user"); err != nil || r.status != 303 {
		t.Fatalf("log in: %d %v", r.status, err)
	}
	checkInvariants(t, s, l)
	before := viewSnapshot(t, s)
	p.terminate()

	ctx := context.Background()
	db := s.db(t)
	tables := make([]string, 0, len(before))
	for name := range before {
		tables = append(tables, pgx.Identifier{name}.Sanitize())
	}
	if _, err := db.Exec(ctx, "DROP TABLE "+strings.Join(tables, ", ")+", goose_view_data_version"); err != nil {
		t.Fatal(err)
	}
	for _, c := range contracts {
		if c.Kind != "aggregator" {
			continue
		}
		for _, sc := range c.Subscribes {
			if _, err := db.Exec(ctx, `SELECT message_store.write_message(gen_random_uuid()::text, $1, 'Read', '{"position": 0}')`,
				"subscriberPosition-"+sc.SubscriberID); err != nil {
				t.Fatal(err)
			}
		}
	}
	started := time.Now()
	p.restart()
	checkInvariants(t, s, l)
	t.Logf("%d view tables dropped and rebuilt in %s", len(tables), time.Since(started).Round(time.Millisecond))
	after := viewSnapshot(t, s)
	for table, rows := range before {
		got := after[table]
		if strings.Join(got, "\n") == strings.Join(rows, "\n") {
			continue
		}
		t.Errorf("%s differs after the rebuild: %d rows before, %d after; first difference: %s", table, len(rows), len(got), firstDifference(rows, got))
	}
}

// viewSnapshot returns every view table's rows as text, sorted. Position saves are left out: the
// rewind and the rebuild write some, so the subscriber-position view and the subscriberPosition rows
// of the admin index change by design.
func viewSnapshot(t *testing.T, s *system) map[string][]string {
	t.Helper()
	ctx := context.Background()
	db := s.db(t)
	rows, err := db.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'goose%'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range names {
		if name == "admin_subscriber_positions" {
			out[name] = nil
			continue
		}
		where := ""
		if name == "admin_streams" || name == "admin_categories" || name == "admin_message_index" {
			where = " WHERE category <> 'subscriberPosition'"
		}
		rows, err := db.Query(ctx, fmt.Sprintf("SELECT t::text FROM %s t%s ORDER BY 1", pgx.Identifier{name}.Sanitize(), where))
		if err != nil {
			t.Fatal(err)
		}
		if out[name], err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func firstDifference(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("before %q, after %q", x, y)
		}
	}
	return ""
}
