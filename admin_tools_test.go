package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"videotutorials/devdb"
)

// The tools run end to end against a throwaway database: populate writes, print reads, rebuild builds
// every aggregator's view into shadow tables and swaps it in.
func TestAdminTools(t *testing.T) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("DATABASE_URL", url)
	t.Setenv("MESSAGE_STORE_URL", "")
	cmds := [][]string{{"populate"}, {"print", "-n", "5", "viewing"}, {"print", "identity:command"}, {"rebuild", "-dry-run", "home-page"}}
	for _, name := range rebuildableNames() {
		cmds = append(cmds, []string{"rebuild", name})
	}
	for _, c := range cmds {
		if code := runTool(c[0], c[1:]); code != 0 {
			t.Fatalf("%v: exit %d", c, code)
		}
	}
	if code := runTool("rebuild", []string{"nope"}); code != 2 {
		t.Errorf("rebuild of an unknown aggregator: exit %d, want 2", code)
	}

	// retry sends the request every listening process hears (messagestore's
	// TestRetryRequestedByAnotherProcess shows the runner acting on it).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(ctx, `LISTEN message_store_retry`); err != nil {
		t.Fatal(err)
	}
	if code := runTool("retry", []string{"aggregators:home-page"}); code != 0 {
		t.Fatalf("retry: exit %d", code)
	}
	n, err := listener.WaitForNotification(ctx)
	if err != nil || n.Payload != "aggregators:home-page" {
		t.Fatalf("retry request heard: %+v, %v", n, err)
	}
	if code := runTool("retry", nil); code != 2 {
		t.Errorf("retry without a subscriber id: exit %d, want 2", code)
	}
}

// The rebuild registry covers every aggregator main wires, and each entry replays exactly the
// aggregator's subscriptions (so a rebuild reads every category the live aggregator reads).
func TestRebuildablesCoverEveryAggregator(t *testing.T) {
	contracts, err := systemContracts()
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var aggregators []string
	for _, c := range contracts {
		if c.Kind != "aggregator" {
			continue
		}
		aggregators = append(aggregators, c.Name)
		r, ok := rebuildables[c.Name]
		if !ok {
			t.Errorf("aggregator %s has no entry in rebuildables (admin_tools.go): `videotutorials rebuild %s` cannot rebuild it", c.Name, c.Name)
			continue
		}
		var want, got []string
		for _, s := range c.Subscribes {
			want = append(want, s.SubscriberID+" "+s.Category)
		}
		for _, s := range r.build(nil, quiet).Subscriptions() {
			got = append(got, s.SubscriberID+" "+s.Category)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("rebuild of %s replays %v; its contract subscribes to %v", c.Name, got, want)
		}
		if len(r.tables) == 0 {
			t.Errorf("rebuild of %s names no tables", c.Name)
		}
	}
	for _, name := range rebuildableNames() {
		if !slices.Contains(aggregators, name) {
			t.Errorf("rebuildables has %s, which is no aggregator of the system", name)
		}
	}
}

// Rebuild equality for every aggregator: with the whole program running and data put in through the
// real flow (registrations, log-ins, an upload, renames accepted and rejected, a description,
// viewings) and the book's populate data, each aggregator's view rebuilt from position 0 equals the
// live one once the live aggregators have caught up — compared in a dry run, and again after the real
// swap, when the live aggregator goes on writing into the swapped-in tables.
func TestRebuildEqualityForEveryAggregator(t *testing.T) {
	p := startProgram(t)
	ctx := context.Background()

	// Data for every aggregator.
	creator := p.visitor()
	creator.signUp() // register, registration email, log in
	if res := p.visitor().logIn("nobody-"+uuid.NewString()[:8]+"@example.com", "wrong password"); res.status != http.StatusUnauthorized {
		t.Fatalf("failed log-in: %d", res.status)
	}
	name, clip := testClip(t)
	res := creator.upload(creator.get("/creators-portal/"), name, clip)
	loc, _ := url.Parse(res.location)
	videoID := loc.Query().Get("uploaded")
	if res.status != http.StatusSeeOther || uuid.Validate(videoID) != nil {
		t.Fatalf("upload: %d → %q", res.status, res.location)
	}
	eventually(t, "the video published", func() bool { return p.video(videoID).Published() })
	videoPage := "/creators-portal/videos/" + videoID
	for _, op := range []struct{ path, field, value string }{
		{"/name", "name", "Rebuilding views"}, {"/name", "name", strings.Repeat("n", 256)}, // accepted, rejected
		{"/describe", "description", "From position 0."}, {"/describe", "description", "   "},
		{"/name", "name", "Rebuilding views, again"},
	} {
		res := creator.submit(creator.get(videoPage), videoPage, videoPage+op.path, url.Values{op.field: {op.value}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("%s %q: %d", op.path, op.value, res.status)
		}
		operation := res.location
		eventually(t, "the outcome of "+op.path, func() bool {
			r := creator.get(operation)
			return r.status == http.StatusSeeOther || (r.status == http.StatusOK && !strings.Contains(r.body, ">Pending<"))
		})
	}
	for range 3 {
		if res := creator.submit(creator.get("/"), "/", "/record-viewing/"+videoID, url.Values{}); res.status != http.StatusSeeOther {
			t.Fatalf("record viewing: %d", res.status)
		}
	}
	tool := p.toolDatabases()
	if err := toolPopulate(ctx, tool, p.store, nil); err != nil {
		t.Fatal(err)
	}

	for _, name := range rebuildableNames() {
		t.Run(name, func(t *testing.T) {
			p.equalRebuild(t, tool, name, true)
			p.equalRebuild(t, tool, name, false)
			p.equalRebuild(t, tool, name, true) // the live aggregator works on the swapped-in tables
		})
	}
}

// toolDatabases are the databases as the tools open them.
func (p *program) toolDatabases() *databases {
	p.t.Helper()
	cfg, err := parseConfig(nil, env(map[string]string{"DATABASE_URL": p.dbURL, "DEV_DATA_DIR": p.t.TempDir()}), io.Discard)
	if err != nil {
		p.t.Fatal(err)
	}
	d, err := openDatabases(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { d.close(context.Background()) })
	return d
}

// caughtUp waits until every subscription of the running program is at its category's head.
func (p *program) caughtUp(t *testing.T) {
	t.Helper()
	eventually(t, "the live subscriptions to catch up", func() bool {
		s := scrapeURL(t, p.base+"/metrics")
		n := 0
		for series, v := range s {
			if strings.HasPrefix(series, "videotutorials_subscriber_lag{") {
				if v != 0 {
					return false
				}
				n++
			}
		}
		return n > 0
	})
}

// equalRebuild rebuilds one aggregator (a dry run or a real swap) and requires it to equal the live
// view. The live aggregators may still be applying the last writes (position saves keep arriving for
// a moment after each burst), so a difference is retried until a deadline; a rebuild that is wrong
// stays different and fails.
func (p *program) equalRebuild(t *testing.T, d *databases, name string, dryRun bool) {
	t.Helper()
	var out strings.Builder
	indexes := func() []string {
		rows, err := d.views.Query(context.Background(), `SELECT tablename || '.' || indexname FROM pg_indexes
			WHERE schemaname = 'public' AND tablename = ANY($1) ORDER BY 1`, rebuildables[name].tables)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	indexesBefore := indexes()
	defer func() {
		if after := indexes(); !slices.Equal(indexesBefore, after) {
			t.Errorf("rebuild %s changed the index names: %v → %v", name, indexesBefore, after)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.caughtUp(t)
		out.Reset()
		res, err := rebuildView(context.Background(), d, p.store, name, dryRun, &out)
		if err != nil {
			t.Fatalf("rebuild %s (dry run %v): %v\n%s", name, dryRun, err, out.String())
		}
		if res.Messages == 0 {
			t.Fatalf("rebuild %s read no messages", name)
		}
		if !dryRun && !res.Swapped {
			t.Fatalf("rebuild %s did not swap", name)
		}
		if !dryRun && !res.Equal {
			// The live view was swapped out already; whether the rebuilt one was right is for the
			// dry run that follows (the live aggregator may have been a message behind at the swap).
			t.Logf("rebuild %s: live view differed at the swap (%v)", name, res.Diff)
			res.Equal = true
		}
		if res.Equal {
			var schemas int
			if err := d.views.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, res.Schema).Scan(&schemas); err != nil || schemas != 0 {
				t.Errorf("shadow schema %s left behind (%v)", res.Schema, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebuild %s (dry run %v) differs from the live view: %v\n%s", name, dryRun, res.Diff, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
