package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/aggregators/adminsubscriberpositions"
	"videotutorials/aggregators/adminusers"
	"videotutorials/aggregators/creatorsvideos"
	"videotutorials/aggregators/homepage"
	"videotutorials/aggregators/usercredentials"
	"videotutorials/aggregators/videooperations"
	"videotutorials/app"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// The tools of the binary: print, rebuild, populate and retry (see runAdminTool).

// runAdminTool runs print, rebuild, populate or retry against the configured database (DATABASE_URL, or the
// private dev PostgreSQL, migrated first) and returns the exit code.
func runAdminTool(name string, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseConfig(nil, environ, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, "configuration error:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var run func(context.Context, *databases, *messagestore.Store, []string) error
	switch name {
	case "print":
		run = toolPrint
	case "rebuild":
		run = toolRebuild
	case "populate":
		run = toolPopulate
	case "retry":
		run = toolRetry
	}
	d, err := openDatabases(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer d.close(context.Background())
	store := messagestore.New(d.store, messagestore.Options{Logger: log})
	if err := run(ctx, d, store, args); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// toolPrint prints the last n messages of a stream or a category, oldest first, password hashes and
// email bodies redacted.
func toolPrint(ctx context.Context, d *databases, _ *messagestore.Store, args []string) error {
	fs := flag.NewFlagSet("print", flag.ContinueOnError)
	n := fs.Int("n", 20, "how many messages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: videotutorials print [-n 20] <stream-or-category>")
		return errUsage
	}
	target := fs.Arg(0)
	f := viewdata.MessageFilter{Stream: target}
	if messagestore.IsCategory(target) {
		f = viewdata.MessageFilter{Category: target}
	}
	ms, err := viewdata.AdminMessages(ctx, d.store, d.views, f, 0, false, *n)
	if err != nil {
		return err
	}
	slices.Reverse(ms)
	for _, m := range ms {
		fmt.Printf("%d  %s  %s/%d  %s  %s\n", m.GlobalPosition, m.Time.Format(time.RFC3339Nano), m.StreamName, m.Position, m.Type, m.ID)
		fmt.Printf("  data:     %s\n", compact(viewdata.RedactMessageJSON(m.Type, m.Data)))
		fmt.Printf("  metadata: %s\n", compact(viewdata.RedactMessageJSON(m.Type, m.Metadata)))
	}
	if len(ms) == 0 {
		fmt.Println("(no messages)")
	}
	return nil
}

func compact(b []byte) string {
	var out strings.Builder
	var v any
	if json.Unmarshal(b, &v) == nil {
		c, _ := json.Marshal(v)
		return string(c)
	}
	out.Write(b)
	return out.String()
}

// toolRetry asks the process that runs a parked subscription to retry it, wherever that process runs
// (Store.RequestRetry): the way to retry a worker's subscription, whose process serves no admin page.
func toolRetry(ctx context.Context, _ *databases, store *messagestore.Store, args []string) error {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: videotutorials retry <subscriber-id>")
		return errUsage
	}
	if err := store.RequestRetry(ctx, args[0]); err != nil {
		return err
	}
	fmt.Printf("asked the process that runs %s to retry it if it is parked\n", args[0])
	return nil
}

// toolPopulate writes the book's example data: a few registrations (Register commands, which the
// identity component turns into users when the system runs) and some viewings.
func toolPopulate(ctx context.Context, _ *databases, store *messagestore.Store, args []string) error {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: videotutorials populate")
		return errUsage
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("password123"), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	users := []string{"alice@example.com", "bob@example.com", "carol@example.com"}
	var ids []string
	for _, email := range users {
		id := uuid.NewString()
		ids = append(ids, id)
		md := messagestore.Metadata{TraceID: uuid.NewString(), UserID: id}
		if _, err := store.Write(ctx, "identity:command-"+id, messagestore.AnyVersion, messagestore.NewMessage{Type: "Register",
			Data: map[string]string{"userId": id, "email": email, "passwordHash": string(hash)}, Metadata: md}); err != nil {
			return err
		}
		fmt.Printf("Register %s (%s), password: password123\n", email, id)
	}
	videos := []string{uuid.NewString(), uuid.NewString()}
	for i := range 7 {
		videoID, userID := videos[i%len(videos)], ids[i%len(ids)]
		md := messagestore.Metadata{TraceID: uuid.NewString(), UserID: userID}
		if _, err := store.Write(ctx, "viewing-"+videoID, messagestore.AnyVersion, messagestore.NewMessage{Type: "VideoViewed",
			Data: map[string]string{"userId": userID, "videoId": videoID}, Metadata: md}); err != nil {
			return err
		}
	}
	fmt.Printf("7 viewings of videos %s\n", strings.Join(videos, ", "))
	// A running program learns of these writes at once instead of at its next idle poll.
	return store.Announce(ctx, "identity:command", "viewing")
}

// rebuildable is an aggregator the rebuild tool knows: how to build it on a pool, and its tables.
// Every aggregator contract in wiring.go has an entry (admin_tools_test.go checks it), and the
// aggregator it builds has the same subscriptions as the contract: a rebuild replays every one.
type rebuildable struct {
	tables []string
	// others, when set, is a condition selecting the rows of tables[0] that belong to other
	// aggregators; they are copied over as they are just before the swap.
	others string
	build  func(pool *pgxpool.Pool, log *slog.Logger) subscriber
}

var rebuildables = map[string]rebuildable{
	"home-page": {[]string{"pages"}, "page_name <> 'home'", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return homepage.New(homepage.Deps{DB: p, Logger: l})
	}},
	"user-credentials": {[]string{"user_credentials", "registration_rejections", "logged_out_sessions"}, "", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return usercredentials.New(usercredentials.Deps{DB: p, Logger: l, KeepLogOuts: app.DefaultSessionMaxAge})
	}},
	// creators-videos reads three categories (videoPublishing, viewing and videoPublishing:command),
	// each with its own subscription and per-column watermarks; the rebuild replays all three.
	"creators-videos": {[]string{"creators_portal_videos"}, "", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return creatorsvideos.New(creatorsvideos.Deps{DB: p, Logger: l})
	}},
	"video-operations": {[]string{"video_operations"}, "", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return videooperations.New(videooperations.Deps{DB: p, Logger: l})
	}},
	"admin-users": {[]string{"admin_users"}, "", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return adminusers.New(adminusers.Deps{DB: p, Logger: l})
	}},
	"admin-streams": {[]string{"admin_streams", "admin_categories", "admin_message_index"}, "", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return adminstreams.New(adminstreams.Deps{DB: p, Logger: l})
	}},
	"admin-subscriber-positions": {[]string{"admin_subscriber_positions", "admin_subscriber_status"}, "", func(p *pgxpool.Pool, l *slog.Logger) subscriber {
		return adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: p, Logger: l})
	}},
}

// rebuildableNames returns the names the rebuild tool knows, sorted.
func rebuildableNames() []string {
	names := make([]string, 0, len(rebuildables))
	for n := range rebuildables {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// rebuildResult is what one rebuild found.
type rebuildResult struct {
	Schema   string           // the shadow schema (dropped when the rebuild returns)
	Messages int              // messages read from the store (all subscriptions, both passes)
	Diff     map[string]int64 // per table: rows in one of live and rebuilt but not the other
	Equal    bool             // every table of the rebuilt view equals the live one
	Swapped  bool             // the rebuilt tables replaced the live ones
}

// toolRebuild is `videotutorials rebuild [-dry-run] <aggregator>` (see rebuildView).
func toolRebuild(ctx context.Context, d *databases, store *messagestore.Store, args []string) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "build and compare only; keep the live view")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, ok := rebuildables[fs.Arg(0)]; fs.NArg() != 1 || !ok {
		fmt.Fprintf(os.Stderr, "usage: videotutorials rebuild [-dry-run] <%s>\n", strings.Join(rebuildableNames(), "|"))
		return errUsage
	}
	_, err := rebuildView(ctx, d, store, fs.Arg(0), *dry, os.Stdout)
	return err
}

// rebuildView rebuilds one aggregator's view from position 0 into shadow tables (a schema of their
// own that the aggregator's unqualified table names resolve to), compares them with the live view,
// and, unless dryRun, swaps them in within one transaction that locks the live tables and first lets
// the shadow catch up with whatever was written meanwhile. Each of the aggregator's subscriptions is
// replayed from the start of its own category. The running program keeps serving; its aggregator
// re-applies (idempotently) anything past its own position into the new tables. Progress goes to out.
func rebuildView(ctx context.Context, d *databases, store *messagestore.Store, name string, dryRun bool, out io.Writer) (rebuildResult, error) {
	res := rebuildResult{Diff: map[string]int64{}}
	r, ok := rebuildables[name]
	if !ok {
		return res, fmt.Errorf("%w: no aggregator %q (known: %s)", errUsage, name, strings.Join(rebuildableNames(), ", "))
	}
	res.Schema = "rebuild_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	qs := pgx.Identifier{res.Schema}.Sanitize()
	if _, err := d.views.Exec(ctx, "CREATE SCHEMA "+qs); err != nil {
		return res, err
	}
	defer d.views.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+qs+" CASCADE") //nolint:errcheck
	for _, t := range r.tables {
		if _, err := d.views.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s (LIKE public.%s INCLUDING ALL)", qs, t, t)); err != nil {
			return res, err
		}
	}
	pc := d.views.Config().Copy()
	pc.ConnConfig.RuntimeParams["search_path"] = res.Schema + ", public"
	pc.MaxConns = 2
	shadow, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return res, err
	}
	defer shadow.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	agg := r.build(shadow, quiet)
	var feeds []*feed
	for _, sc := range agg.Subscriptions() {
		feeds = append(feeds, &feed{cfg: sc, store: store})
	}
	for _, f := range feeds {
		k, err := f.catchUp(ctx)
		if err != nil {
			return res, fmt.Errorf("replay %s: %w", f.cfg.SubscriberID, err)
		}
		res.Messages += k
	}
	fmt.Fprintf(out, "rebuilt %s from %d messages (%d subscriptions) into %s\n", name, res.Messages, len(feeds), res.Schema)

	tx, err := d.views.Begin(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	for _, t := range r.tables {
		if _, err := tx.Exec(ctx, "LOCK TABLE public."+t+" IN EXCLUSIVE MODE"); err != nil {
			return res, err
		}
	}
	for _, f := range feeds { // what was written while building
		k, err := f.catchUp(ctx)
		if err != nil {
			return res, fmt.Errorf("replay %s: %w", f.cfg.SubscriberID, err)
		}
		res.Messages += k
	}
	if r.others != "" {
		t := r.tables[0]
		if _, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %[2]s.%[1]s WHERE %[3]s; INSERT INTO %[2]s.%[1]s SELECT * FROM public.%[1]s WHERE %[3]s",
			t, qs, r.others)); err != nil {
			return res, err
		}
	}
	res.Equal = true
	for _, t := range r.tables {
		var diff int64
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM ((SELECT * FROM public.%[1]s EXCEPT ALL SELECT * FROM %[2]s.%[1]s)
			UNION ALL (SELECT * FROM %[2]s.%[1]s EXCEPT ALL SELECT * FROM public.%[1]s)) d`, t, qs)).Scan(&diff); err != nil {
			return res, err
		}
		res.Diff[t] = diff
		if diff != 0 {
			res.Equal = false
			fmt.Fprintf(out, "%s: %d rows differ from the live view (the live aggregator may also just be behind)\n", t, diff)
		}
	}
	if res.Equal {
		fmt.Fprintln(out, "the rebuilt view equals the live view")
	}
	if dryRun {
		fmt.Fprintln(out, "dry run: live view kept")
		return res, nil
	}
	for _, t := range r.tables {
		renames, err := indexRenames(ctx, tx, res.Schema, t)
		if err != nil {
			return res, err
		}
		if _, err := tx.Exec(ctx, "DROP TABLE public."+t); err != nil {
			return res, err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s SET SCHEMA public", qs, t)); err != nil {
			return res, err
		}
		for from, to := range renames {
			if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER INDEX public.%s RENAME TO %s", pgx.Identifier{from}.Sanitize(),
				pgx.Identifier{to}.Sanitize())); err != nil {
				return res, err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return res, err
	}
	res.Swapped = true
	fmt.Fprintln(out, "swapped the rebuilt view in")
	return res, nil
}

// indexRenames maps the names Postgres gave the shadow table's indexes (CREATE TABLE … LIKE names
// them itself) to the live table's names for the same definitions, so that after a swap the indexes
// keep the names the migrations gave them (and later migrations can refer to them).
func indexRenames(ctx context.Context, tx pgx.Tx, schema, table string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT schemaname, indexname,
		regexp_replace(indexdef, '^(CREATE (UNIQUE )?INDEX )\S+ ON \S+', '\1ON') AS shape
		FROM pg_indexes WHERE tablename = $1 AND schemaname IN ('public', $2)`, table, schema)
	if err != nil {
		return nil, err
	}
	live, shadow := map[string]string{}, map[string]string{}
	for rows.Next() {
		var sch, name, shape string
		if err := rows.Scan(&sch, &name, &shape); err != nil {
			return nil, err
		}
		if sch == "public" {
			live[shape] = name
		} else {
			shadow[shape] = name
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	renames := map[string]string{}
	for shape, name := range shadow {
		if to, ok := live[shape]; ok && to != name {
			renames[name] = to
		}
	}
	return renames, nil
}

// feed reads one subscription's messages from the store and applies them, as the subscription would,
// without recording a position (so a rebuild writes no messages).
type feed struct {
	cfg   messagestore.SubscriptionConfig
	store *messagestore.Store
	pos   int64
	txid  uint64
}

func (f *feed) catchUp(ctx context.Context) (int, error) {
	n := 0
	types := map[string]bool{}
	for t := range f.cfg.Handlers {
		types[t] = true
	}
	for _, t := range f.cfg.BatchTypes {
		types[t] = true
	}
	for {
		var msgs []messagestore.Message
		var err error
		if f.cfg.Category == messagestore.AllCategories {
			msgs, err = f.store.ReadAll(ctx, f.txid, f.pos, 1000)
		} else {
			msgs, err = f.store.ReadCategory(ctx, f.cfg.Category, f.pos+1, 1000, messagestore.CategoryRead{Correlation: f.cfg.Correlation})
		}
		if err != nil || len(msgs) == 0 {
			return n, err
		}
		var keep []messagestore.Message
		for _, m := range msgs {
			if f.cfg.OriginCategory != "" && messagestore.Category(m.Metadata.OriginStreamName) != f.cfg.OriginCategory {
				continue
			}
			if len(types) > 0 && !types[m.Type] {
				continue
			}
			keep = append(keep, m)
		}
		if f.cfg.HandleBatch != nil && len(keep) > 0 {
			if err := f.cfg.HandleBatch(ctx, keep); err != nil {
				return n, err
			}
		} else {
			for _, m := range keep {
				if err := f.cfg.Handlers[m.Type](ctx, m); err != nil {
					return n, err
				}
			}
		}
		n += len(msgs)
		last := msgs[len(msgs)-1]
		f.pos, f.txid = last.GlobalPosition, last.TransactionID
	}
}
