// Command vtload drives load against the Video Tutorials program and reports requests per second,
// latency percentiles, end-to-end latencies and the program's CPU and memory.
//
// Against a running program:
//
//	vtload -url http://127.0.0.1:8080 -db "$DATABASE_URL" -pid 1234 -scenario home,viewing
//
// Or it starts the program itself (go build -o /tmp/vt . first): a private throw-away PostgreSQL and
// one process per -spawn entry (ROLES values separated by ';'), all sharing the database:
//
//	vtload -bin /tmp/vt -spawn 'web;components,aggregators' -scenario suite
//
// Scenarios: hold (keep the started processes for -d and sample them, e.g. for wrk), home (GET /), viewing (POST /record-viewing/:id; verifies every stream afterwards),
// visible (a viewing visible in the home view after the POST), register (RegistrationEmailSent after
// the registration POST), suite (all four). -ab-env runs a second set of processes with extra
// environment on the same database (-ab-db own: a database of its own on the same server, so that
// each side is a whole system with its own aggregators) and alternates every load between the two
// sides (A/B ratios).
// See docs/BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/loadtest"
)

type options struct {
	urls, spawn, bin, abBin, abDB, dbURL, pids, dbPid, scenarios, abEnv, env, visibleMode, get, post string
	conns, postConns, probes, regConns, regN, rounds, epollThreads                                   int
	dur, warmup, probeGap, poll, regPoll                                                             time.Duration
	cookies, hot, durable                                                                            bool
}

func main() {
	var o options
	flag.StringVar(&o.urls, "url", "", "web URL(s) of a running program, comma-separated (load is spread over them)")
	flag.StringVar(&o.spawn, "spawn", "", "start the program: one process per ';'-separated ROLES value, e.g. 'web;components,aggregators'")
	flag.StringVar(&o.bin, "bin", "", "the videotutorials executable for -spawn (go build -o /tmp/vt .)")
	flag.StringVar(&o.dbURL, "db", os.Getenv("DATABASE_URL"), "database of the running program (for the end-to-end probes and checks); with -spawn: use it instead of a private PostgreSQL")
	flag.BoolVar(&o.durable, "durable", false, "with -spawn: a private PostgreSQL with fsync on (default: throw-away, fsync off)")
	flag.StringVar(&o.pids, "pid", "", "process ids of the program to sample (comma-separated); -spawn samples its processes")
	flag.StringVar(&o.dbPid, "db-pid", "", "PostgreSQL postmaster pid to sample with all its backends")
	flag.StringVar(&o.scenarios, "scenario", "suite", "comma-separated: home, viewing, visible, register, suite")
	flag.IntVar(&o.conns, "c", 32, "connections for GET /")
	flag.IntVar(&o.postConns, "post-c", 64, "connections for POST /record-viewing")
	flag.DurationVar(&o.dur, "d", 10*time.Second, "measured duration of each load")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each load")
	flag.IntVar(&o.rounds, "rounds", 4, "with -ab-env: each load alternates A and B in this many rounds of d/rounds")
	flag.StringVar(&o.get, "get", "epoll", "GET / client: epoll (event loops over non-blocking keep-alive connections, built as wrk is; Linux), raw (the same requests from a goroutine per connection) or http (net/http, several times the driver's CPU)")
	flag.IntVar(&o.epollThreads, "epoll-threads", 0, "event-loop threads of the epoll client (0: one per CPU, as wrk -t2 on two cores)")
	flag.StringVar(&o.post, "post", "epoll", "POST /record-viewing client: epoll (the -get epoll client writing a fixed request with the session cookie and CSRF token a home page gave each connection), raw (the same requests from a goroutine per connection) or http (net/http)")
	flag.BoolVar(&o.cookies, "cookies", true, "GET / clients keep their session cookie (false: like wrk, a new session every request)")
	flag.BoolVar(&o.hot, "hot", false, "POST clients all record the home page's demo video (one hot stream) instead of a video each; the stream check is skipped")
	flag.IntVar(&o.probes, "probes", 200, "viewings probed by the visible scenario")
	flag.DurationVar(&o.probeGap, "probe-gap", 10*time.Millisecond, "pause between probes")
	flag.DurationVar(&o.poll, "poll", 200*time.Microsecond, "pause between polls of the home view")
	flag.StringVar(&o.visibleMode, "visible", "db", "db: poll the pages row's watermark; page: poll GET / for the count (idle system only)")
	flag.IntVar(&o.regConns, "reg-c", 1, "concurrent registering clients")
	flag.IntVar(&o.regN, "reg-n", 40, "registrations per registering client")
	flag.DurationVar(&o.regPoll, "reg-poll", 5*time.Millisecond, "poll interval while waiting for RegistrationEmailSent (NOTIFY wakes earlier)")
	flag.StringVar(&o.abEnv, "ab-env", "", "with -spawn: also start side B with this extra environment (comma-separated VAR=value) and compare")
	flag.StringVar(&o.abBin, "ab-bin", "", "with -spawn: also start side B from this executable (e.g. the previous commit's build) and compare")
	flag.StringVar(&o.abDB, "ab-db", "shared", "with -ab-env or -ab-bin: shared (side B's processes use side A's database, and the two sides share the aggregators' leases) or own (side B gets a database of its own on the same server: two whole systems)")
	flag.StringVar(&o.env, "env", "", "with -spawn: extra environment for every process (comma-separated VAR=value)")
	flag.Parse()
	if o.abDB != "shared" && o.abDB != "own" {
		fmt.Fprintf(os.Stderr, "vtload: -ab-db is shared or own (not %q)\n", o.abDB)
		os.Exit(2)
	}
	if clients := []string{"epoll", "raw", "http"}; !slices.Contains(clients, o.get) || !slices.Contains(clients, o.post) {
		fmt.Fprintf(os.Stderr, "vtload: -get and -post are epoll, raw or http (not %q, %q)\n", o.get, o.post)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "vtload:", err)
		os.Exit(1)
	}
}

// side is one system under test.
type side struct {
	name    string
	urls    []string
	sampler *loadtest.Sampler
	dbURL   string        // its database, when it has one of its own (-ab-db own)
	db      *pgxpool.Pool // its database for the probes and checks (set in run)
}

func splitList(s, sep string) []string {
	var out []string
	for _, x := range strings.Split(s, sep) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func run(ctx context.Context, o options) error {
	fmt.Printf("vtload %s\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("started %s on %s\n", time.Now().Format(time.RFC3339), hostInfo())
	var sides []*side
	dbURL := o.dbURL
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.spawn != "" {
		if o.bin == "" {
			return fmt.Errorf("-spawn needs -bin (go build -o /tmp/vt .)")
		}
		roles := splitList(o.spawn, ";")
		copts := loadtest.ClusterOptions{Bin: o.bin, Roles: roles, Env: splitList(o.env, ","), Log: quiet, DatabaseURL: o.dbURL, Durable: o.durable}
		a, err := loadtest.StartCluster(ctx, copts)
		if err != nil {
			return err
		}
		defer a.Stop()
		dbURL = a.DBURL
		fmt.Printf("side A: %d process(es) %q, database %s\n", len(roles), roles, redact(dbURL))
		sides = append(sides, &side{name: "A", urls: a.WebURLs, sampler: loadtest.NewSampler(a.Watched(), 250*time.Millisecond)})
		if o.abEnv != "" || o.abBin != "" {
			copts.DatabaseURL, copts.Env = a.DBURL, append(copts.Env, splitList(o.abEnv, ",")...)
			if o.abDB == "own" {
				own, drop, err := loadtest.CreateSiblingDatabase(ctx, a.DBURL)
				if err != nil {
					return err
				}
				defer drop()
				copts.DatabaseURL = own
			}
			if o.abBin != "" {
				copts.Bin = o.abBin
			}
			b, err := loadtest.StartCluster(ctx, copts)
			if err != nil {
				return err
			}
			defer b.Stop()
			fmt.Printf("side B: the same with %s %s, database %s\n", o.abBin, o.abEnv, redact(copts.DatabaseURL))
			// One database serves both sides: sample it under side A only, as everything else.
			w := a.Watched()
			sides[0].sampler = loadtest.NewSampler(w, 250*time.Millisecond)
			sides = append(sides, &side{name: "B", urls: b.WebURLs, sampler: loadtest.NewSampler(b.Watched()[:len(b.Procs)], 250*time.Millisecond)})
			if o.abDB == "own" {
				sides[1].dbURL = copts.DatabaseURL
			}
		}
		if len(a.WebURLs) == 0 {
			return fmt.Errorf("no process has the web role")
		}
		time.Sleep(2 * time.Second) // leases settle, subscriptions catch up
	} else {
		urls := splitList(o.urls, ",")
		if len(urls) == 0 {
			return fmt.Errorf("give -url (a running program) or -spawn with -bin")
		}
		var w []loadtest.Watched
		for i, p := range splitList(o.pids, ",") {
			pid, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("-pid %q: %w", p, err)
			}
			w = append(w, loadtest.Watched{Name: fmt.Sprintf("program pid %d (#%d)", pid, i+1), Pid: pid})
		}
		if o.dbPid != "" {
			pid, err := strconv.Atoi(o.dbPid)
			if err != nil {
				return fmt.Errorf("-db-pid %q: %w", o.dbPid, err)
			}
			w = append(w, loadtest.Watched{Name: "PostgreSQL (all backends)", Pid: pid, Tree: true})
		}
		sides = append(sides, &side{name: "A", urls: urls, sampler: loadtest.NewSampler(w, 250*time.Millisecond)})
	}
	var db *pgxpool.Pool
	if dbURL != "" {
		var err error
		if db, err = pgxpool.New(ctx, dbURL); err != nil {
			return err
		}
		defer db.Close()
	}
	for _, sd := range sides {
		sd.db = db
		if sd.dbURL != "" {
			p, err := pgxpool.New(ctx, sd.dbURL)
			if err != nil {
				return err
			}
			defer p.Close()
			sd.db = p
		}
	}
	scen := splitList(o.scenarios, ",")
	if slices.Contains(scen, "suite") {
		scen = []string{"home", "viewing", "visible", "register"}
	}
	for _, s := range scen {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Println()
		switch s {
		case "home":
			compare(ctx, o, sides, "GET / ("+o.get+" client)", func(sd *side) loadtest.Runner {
				switch o.get {
				case "http":
					return loadtest.Ops(loadtest.HomeOps(sd.urls, o.conns, o.cookies))
				case "raw":
					ops, err := loadtest.HomeRawOps(sd.urls, o.conns, o.cookies)
					if err != nil {
						fmt.Println("  raw GET:", err)
						return nil
					}
					return loadtest.Ops(ops)
				}
				g, err := loadtest.NewEpollGetter(sd.urls, "/", o.conns, o.epollThreads, o.cookies)
				if err != nil {
					fmt.Println("  epoll GET:", err)
					return nil
				}
				return g
			}, nil)
		case "viewing":
			var all [][]*loadtest.Viewer
			mk := func(sd *side) loadtest.Runner {
				vs, err := loadtest.NewViewers(ctx, sd.urls, o.postConns, o.hot)
				if err != nil {
					fmt.Println("  viewers:", err)
					return nil
				}
				all = append(all, vs)
				switch o.post {
				case "epoll":
					p, err := loadtest.NewEpollPoster(vs, o.epollThreads)
					if err != nil {
						fmt.Println("  epoll POST:", err)
						return nil
					}
					return p
				case "raw":
					for _, v := range vs {
						if err := v.UseRaw(); err != nil {
							fmt.Println("  raw POST:", err)
							return nil
						}
					}
				}
				return loadtest.Ops(loadtest.ViewerOps(vs))
			}
			compare(ctx, o, sides, "POST /record-viewing ("+o.post+" client)", mk, func() {
				if o.hot || db == nil {
					return
				}
				// Each side's viewings are in its own database (all[i] are side i's viewers).
				n, streams := 0, 0
				for i, vs := range all {
					k, err := loadtest.VerifyViewings(ctx, sides[i].db, vs)
					if err != nil {
						fmt.Printf("  stream check FAILED after %d messages: %v\n", n+k, err)
						return
					}
					n, streams = n+k, streams+len(vs)
				}
				fmt.Printf("  stream check: all %d accepted viewings are in their %d streams, in order, positions gapless\n", n, streams)
			})
		case "visible":
			if db == nil && o.visibleMode == "db" {
				fmt.Println("visible: needs -db")
				continue
			}
			for _, sd := range sides {
				r := loadtest.ProbeVisible(ctx, sd.urls[0], sd.db, o.visibleMode, o.probes, o.probeGap, o.poll)
				fmt.Printf("[%s] %s\n", sd.name, r)
			}
		case "register":
			if db == nil {
				fmt.Println("register: needs -db")
				continue
			}
			for _, sd := range sides {
				r := loadtest.Register(ctx, sd.urls, sd.db, o.regConns, o.regN, o.regPoll, sd.sampler)
				fmt.Printf("[%s] %s\n", sd.name, r)
			}
		case "hold":
			// Keep the started processes for d, to point another tool (wrk) at them.
			for _, sd := range sides {
				fmt.Printf("[%s] web URLs: %s\n", sd.name, strings.Join(sd.urls, " "))
			}
			if sides[0].sampler != nil {
				sides[0].sampler.Start()
			}
			sleep(ctx, o.dur)
			for _, u := range sides[0].sampler.Stop() {
				fmt.Printf("  %s\n", u)
			}
		default:
			return fmt.Errorf("unknown scenario %q", s)
		}
	}
	return nil
}

// compare runs a load on every side: with one side, once; with two, alternating in rounds.
func compare(ctx context.Context, o options, sides []*side, name string, mk func(*side) loadtest.Runner, after func()) {
	runners := make([]loadtest.Runner, len(sides))
	for i, sd := range sides {
		runners[i] = mk(sd)
		if runners[i] == nil {
			return
		}
	}
	rounds := 1
	if len(sides) > 1 {
		rounds = o.rounds
	}
	res := make([]loadtest.LoadResult, len(sides))
	for r := range rounds {
		for i, sd := range sides {
			warm := o.warmup
			if r > 0 {
				warm = o.warmup / 4
			}
			res[i] = loadtest.Merge(res[i], runners[i].Run(ctx, name, warm, o.dur/time.Duration(rounds), sd.sampler))
		}
	}
	for i, sd := range sides {
		fmt.Printf("[%s] %s\n", sd.name, res[i])
	}
	if len(sides) == 2 && res[0].Rate() > 0 {
		fmt.Printf("  ratio B/A: %.2fx requests/s\n", res[1].Rate()/res[0].Rate())
	}
	if after != nil {
		after()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

func hostInfo() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	l := ""
	if len(f) > 0 {
		l = ", load " + f[0]
	}
	return fmt.Sprintf("%d CPUs%s", numCPU(), l)
}
