package catchup

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/aggregators/adminsubscriberpositions"
	"videotutorials/aggregators/adminusers"
	"videotutorials/aggregators/creatorsvideos"
	"videotutorials/aggregators/homepage"
	"videotutorials/aggregators/usercredentials"
	"videotutorials/aggregators/videooperations"
	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

var (
	events   = flag.Int("catchup.events", 0, "events to generate and catch up with (0: skip the test)")
	videos   = flag.Int("catchup.videos", 1000, "videos the viewings are spread over")
	maxConns = flag.Int("catchup.conns", 20, "connections in the pool (the program's DB_MAX_CONNS)")
	timeout  = flag.Duration("catchup.timeout", 10*time.Minute, "give up when an aggregator is not at the head by then")
	catchUp  = flag.Int("catchup.batch", 0, "CatchUpBatchSize for every subscription (0: each aggregator's own)")
	heapProf = flag.String("catchup.heapprofile", "", "write a heap profile (in use) to this file each time the catch-up's heap in use reaches a new high by 8 MB")
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestCatchup(t *testing.T) {
	if *events <= 0 {
		t.Skip("set -catchup.events=N to run (e.g. 1000000)")
	}
	ctx := context.Background()
	dbURL, serverPid := database(t)
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = int32(*maxConns) // as the program's DB_MAX_CONNS
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.MessageStore.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}
	if err := migrations.ViewData.Up(ctx, pool, quiet); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	counts, err := generate(ctx, pool, *events, *videos)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("generated %d events in %s (%.0f events/s): %v", *events, took.Round(time.Millisecond),
		float64(*events)/took.Seconds(), counts)
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE message_store.messages"); err != nil {
		t.Fatal(err)
	}
	// The generator and the program under test share this process. To report the program's memory
	// alone, the generator's garbage is collected and returned to the kernel, and the kernel's
	// high-water mark of the resident set (VmHWM) is reset, before the aggregators start.
	genHWM := procStatusKB("VmHWM")
	runtime.GC()
	debug.FreeOSMemory()
	baseRSS := procStatusKB("VmRSS")
	hwmReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	t.Logf("generator: peak RSS %d MB; before catch-up: RSS %d MB", genHWM>>10, baseRSS>>10)

	store := messagestore.New(pool, messagestore.Options{Logger: quiet})
	var configs []messagestore.SubscriptionConfig
	for _, a := range []interface {
		Subscriptions() []messagestore.SubscriptionConfig
	}{
		homepage.New(homepage.Deps{DB: pool, Logger: quiet}),
		usercredentials.New(usercredentials.Deps{DB: pool, Logger: quiet}),
		adminusers.New(adminusers.Deps{DB: pool, Logger: quiet}),
		adminstreams.New(adminstreams.Deps{DB: pool, Logger: quiet}),
		adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: pool, Logger: quiet}),
		creatorsvideos.New(creatorsvideos.Deps{DB: pool, Logger: quiet}),
		videooperations.New(videooperations.Deps{DB: pool, Logger: quiet}),
	} {
		configs = append(configs, a.Subscriptions()...)
	}
	if *catchUp > 0 {
		for i := range configs {
			configs[i].CatchUpBatchSize = *catchUp
		}
	}
	type target struct {
		sub   *messagestore.Subscription
		head  int64
		count int64
		done  time.Duration
	}
	var targets []*target
	var subs []*messagestore.Subscription
	for _, c := range configs {
		sub, err := store.Subscribe(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		head, err := store.CategoryHead(ctx, c.Category)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		if c.Category == messagestore.AllCategories {
			err = pool.QueryRow(ctx, `SELECT count(*) FROM message_store.messages`).Scan(&n)
		} else {
			err = pool.QueryRow(ctx, `SELECT count(*) FROM message_store.messages WHERE message_store.category(stream_name) = $1`, c.Category).Scan(&n)
		}
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
		targets = append(targets, &target{sub: sub, head: head, count: n})
	}

	cpu0, pg0 := processCPU(), serverCPU(serverPid)
	runCtx, cancel := context.WithCancel(ctx)
	supervisor := messagestore.NewSupervisor(store, nil, subs...)
	g := errgroup.Group{}
	g.Go(func() error { return supervisor.Run(runCtx) })
	started := time.Now()
	var peakHeap, peakRSS, profiled uint64
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
		peakRSS = max(peakRSS, procStatusKB("VmRSS")<<10) // sampled; VmHWM below is exact
		if *heapProf != "" && ms.HeapInuse > profiled+8<<20 {
			profiled = ms.HeapInuse
			writeHeapProfile(t, *heapProf)
		}
		pending := 0
		for _, tg := range targets {
			st := tg.sub.Status()
			if tg.done == 0 && st.Position >= tg.head {
				tg.done = time.Since(started)
			}
			if tg.done == 0 {
				pending++
				if st.State == messagestore.StateParked {
					t.Fatalf("%s parked: %s", st.SubscriberID, st.LastError)
				}
			}
		}
		if pending == 0 {
			break
		}
		if time.Since(started) > *timeout {
			t.Fatalf("%d subscriptions not at the head after %s", pending, *timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	all := time.Since(started)
	cpu, pg := processCPU()-cpu0, serverCPU(serverPid)-pg0
	cancel()
	_ = g.Wait()

	hwm := procStatusKB("VmHWM") << 10
	if !hwmReset { // an old kernel: the high-water mark still includes the generator
		hwm = peakRSS
	}
	slices.SortFunc(targets, func(a, b *target) int { return int(a.done - b.done) })
	var out strings.Builder
	fmt.Fprintf(&out, "\n| subscription | category | messages | time to head | messages/s |\n|---|---|---:|---:|---:|\n")
	for _, tg := range targets {
		fmt.Fprintf(&out, "| %s | %s | %d | %.2f s | %.0f |\n", tg.sub.SubscriberID(), tg.sub.Category(), tg.count,
			tg.done.Seconds(), float64(tg.count)/max(tg.done.Seconds(), 0.001))
	}
	fmt.Fprintf(&out, "\nall at the head after %.2f s; Go process CPU %.1f s (%.0f%% of one core); during catch-up: peak heap in use %d MB, peak RSS %d MB (started at %d MB); PostgreSQL CPU %.1f s (%.0f%% of one core)\n",
		all.Seconds(), cpu.Seconds(), 100*cpu.Seconds()/all.Seconds(), peakHeap>>20, hwm>>20, baseRSS>>10, pg.Seconds(), 100*pg.Seconds()/all.Seconds())
	t.Log(out.String())

	// The views agree with the events.
	var watched int64
	if err := pool.QueryRow(ctx, `SELECT (page_data->>'videosWatched')::bigint FROM pages WHERE page_name = 'home'`).Scan(&watched); err != nil {
		t.Fatal(err)
	}
	if watched != int64(counts["viewing"]) {
		t.Errorf("home page counts %d viewings, %d were written", watched, counts["viewing"])
	}
	var views int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(views), 0) FROM creators_portal_videos`).Scan(&views); err != nil {
		t.Fatal(err)
	}
	if views != int64(counts["viewing"]) {
		t.Errorf("creators' videos count %d views, %d were written", views, counts["viewing"])
	}
	var streamed int64
	// Position saves go on until the subscriptions stop, so they are left out of the comparison.
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(message_count), 0) FROM admin_categories
		WHERE category <> 'subscriberPosition'`).Scan(&streamed); err != nil {
		t.Fatal(err)
	}
	var total int64
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM message_store.messages
		WHERE message_store.category(stream_name) <> 'subscriberPosition'`).Scan(&total)
	if streamed != total {
		t.Errorf("admin streams counts %d messages, the store holds %d", streamed, total)
	}
}

// database returns a fresh database on a throw-away server (or on TEST_DATABASE_URL's server) and the
// server's process id (0 when unknown).
func database(t *testing.T) (string, int) {
	t.Helper()
	ctx := context.Background()
	base := os.Getenv("TEST_DATABASE_URL")
	pid := 0
	if base == "" {
		dir, err := os.MkdirTemp("", "catchup-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		srv, err := devdb.Start(ctx, devdb.Options{Dir: filepath.Join(dir, "pg"), Throwaway: true, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Stop(context.Background()) })
		base, pid = srv.URL, srv.Pid()
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := "catchup_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String(), pid
}

// chunkSize is the most messages of one stream that one write_messages call writes.
const chunkSize = 1000

// chunk is up to chunkSize messages of one stream, written by one write_messages call.
type chunk struct {
	stream              string
	ids, types, data, m []string
}

func (c *chunk) add(typ string, data any, md map[string]any) {
	d, _ := json.Marshal(data)
	m, _ := json.Marshal(md)
	c.ids = append(c.ids, uuid.NewString())
	c.types = append(c.types, typ)
	c.data = append(c.data, string(d))
	c.m = append(c.m, string(m))
}

// generate writes n events: 80% viewings spread over the videos, 10% registrations (Registered and
// RegistrationEmailSent per user), 10% video publishing (per video: PublishVideo command, then
// VideoPublished, then renames and descriptions with their trace ids). It returns the counts per
// category.
//
// Every event is a function of its stream and position, so each chunk is built only when it is its
// turn to be written and handed to the writers at once: the generator holds a handful of chunks
// whatever n is. (It used to build all n events first: 838 MB of the 870 MB peak of the
// 1,000,000-event run was the generator's, not the aggregators'.) The chunks come in the order in
// which they would fill up if the events were generated one by one round-robin over the streams:
// round r holds the r-th chunk of every stream that has one.
func generate(ctx context.Context, pool *pgxpool.Pool, n, nVideos int) (map[string]int, error) {
	counts := map[string]int{} // the producer's alone until g.Wait returns
	jobs := make(chan *chunk)
	g, gctx := errgroup.WithContext(ctx)
	for range 4 {
		g.Go(func() error {
			for c := range jobs {
				if _, err := pool.Exec(gctx, `SELECT message_store.write_messages($1, $2, $3, $4::text[]::jsonb[], $5::text[]::jsonb[], NULL)`,
					c.stream, c.ids, c.types, c.data, c.m); err != nil {
					return fmt.Errorf("write %s: %w", c.stream, err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		return produce(n, nVideos, func(c *chunk) error {
			counts[messagestore.Category(c.stream)] += len(c.ids)
			select {
			case jobs <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	return counts, g.Wait()
}

// produce builds the chunks of generate's n events one at a time, in the order they are to be
// written, and hands each to emit.
func produce(n, nVideos int, emit func(*chunk) error) error {
	videoIDs := make([]string, nVideos)
	owners := make([]string, nVideos)
	for i := range videoIDs {
		videoIDs[i], owners[i] = uuid.NewString(), uuid.NewString()
	}
	nViewings, nIdentity := n*8/10, n/10
	nVideoEvents := n - nViewings - nIdentity
	// spread returns how many of total events, dealt round-robin over nVideos streams, stream j gets.
	spread := func(total, j int) int {
		return total/nVideos + min(max(total%nVideos-j, 0), 1)
	}
	// Video publishing: per video a PublishVideo command and VideoPublished (two events), for as
	// many videos as the events allow, then renames and descriptions dealt round-robin over the
	// videos; the k-th of video j is the event numbered nVideos+j+k*nVideos.
	published := min(nVideos, (nVideoEvents+1)/2)
	renames := max(nVideoEvents-2*nVideos, 0)
	videoEvent := func(c *chunk, j, pos int) {
		v := videoIDs[j]
		if pos == 0 {
			c.add("VideoPublished", videopublishingmsg.VideoPublished{OwnerID: owners[j], SourceURI: "uploads/" + v + ".mp4",
				TranscodedURI: "videos/" + v + ".mp4", VideoID: v}, map[string]any{"traceId": uuid.NewString()})
			return
		}
		i := nVideos + j + (pos-1)*nVideos
		if i%2 == 0 {
			c.add("VideoNamed", videopublishingmsg.VideoNamed{Name: "Video " + strconv.Itoa(i), VideoID: v},
				map[string]any{"traceId": uuid.NewString()})
		} else {
			c.add("VideoDescribed", videopublishingmsg.VideoDescribed{Description: "About " + strconv.Itoa(i), VideoID: v},
				map[string]any{"traceId": uuid.NewString()})
		}
	}
	videoLen := func(j int) int {
		if j >= published {
			return 0
		}
		return 1 + spread(renames, j)
	}

	// rounds emits, from round `from` on, the positions [r*chunkSize, (r+1)*chunkSize) of each of
	// the streams that has them.
	rounds := func(from, streams int, length func(j int) int, name func(j int) string, event func(c *chunk, j, pos int)) error {
		for r := from; ; r++ {
			emitted := false
			for j := range streams {
				lo, hi := r*chunkSize, min(length(j), (r+1)*chunkSize)
				if lo >= hi {
					continue
				}
				c := &chunk{stream: name(j)}
				for pos := lo; pos < hi; pos++ {
					event(c, j, pos)
				}
				if err := emit(c); err != nil {
					return err
				}
				emitted = true
			}
			if !emitted {
				return nil
			}
		}
	}
	viewingStream := func(j int) string { return viewingmsg.StreamName(videoIDs[j]) }
	if err := rounds(0, nVideos, func(j int) int { return spread(nViewings, j) }, viewingStream, func(c *chunk, j, _ int) {
		c.add("VideoViewed", viewingmsg.VideoViewed{UserID: owners[j], VideoID: videoIDs[j]},
			map[string]any{"traceId": uuid.NewString(), "userId": owners[j]})
	}); err != nil {
		return err
	}
	for i := 0; i < nIdentity/2; i++ {
		u := uuid.NewString()
		c := &chunk{stream: identitymsg.StreamName(u)}
		c.add("Registered", identitymsg.Registered{UserID: u, Email: "user" + strconv.Itoa(i) + "@example.com",
			PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"}, map[string]any{"traceId": uuid.NewString()})
		c.add("RegistrationEmailSent", identitymsg.RegistrationEmailSent{UserID: u, EmailID: uuid.NewString()},
			map[string]any{"traceId": uuid.NewString()})
		if err := emit(c); err != nil {
			return err
		}
	}
	// Round 0 of the videos goes with their commands: each command, then its video's first chunk.
	videoStream := func(j int) string { return videopublishingmsg.StreamName(videoIDs[j]) }
	for j := range published {
		v := videoIDs[j]
		cmd := &chunk{stream: videopublishingmsg.CommandStreamName(v)}
		cmd.add("PublishVideo", videopublishingmsg.PublishVideo{OwnerID: owners[j], SourceURI: "uploads/" + v + ".mp4", VideoID: v},
			map[string]any{"traceId": uuid.NewString()})
		c := &chunk{stream: videoStream(j)}
		for pos := range min(videoLen(j), chunkSize) {
			videoEvent(c, j, pos)
		}
		if err := emit(cmd); err != nil {
			return err
		}
		if err := emit(c); err != nil {
			return err
		}
	}
	return rounds(1, nVideos, videoLen, videoStream, videoEvent)
}

func processCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// serverCPU sums the CPU time of the PostgreSQL server (the postmaster and its children).
func serverCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	var ticks int64
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ppid, _ := strconv.Atoi(f[1])
		if p != pid && ppid != pid {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / 100
}

// procStatusKB returns a field of /proc/self/status in kB (VmRSS, VmHWM), 0 when it cannot be read.
func procStatusKB(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func writeHeapProfile(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}
