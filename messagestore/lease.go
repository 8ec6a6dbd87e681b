package messagestore

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// leaseClass is the first key of the two-key advisory locks that hold subscription leases. Two-key
// advisory locks live in a key space of their own, apart from the one-key (bigint) category locks
// that write_message takes.
const leaseClass int32 = 0x56545355 // "VTSU"

// memberClass is the first key of the shared advisory lock by which the processes that run one set of
// subscriptions count each other (the second key is derived from the set): every such process holds it
// on its lease connection, so the number of its holders is the number of live peers.
const memberClass int32 = 0x56544d42 // "VTMB"

// Leases makes sure each subscriber id runs in at most one process at a time when several processes
// share a database. A lease is a session-level advisory lock held on one dedicated connection per
// process: when the process dies its connection closes, Postgres releases the locks, and another
// process's next attempt (every Interval) takes them over. If the connection is lost, every lease this
// process held is cancelled at once, before anyone else can take it.
//
// A process that is not dead but answers nothing (stopped, paused, cut off from the database with its
// connections left open) would otherwise hold its leases for as long as its connection lives: the
// server would wait hours for TCP to give up. So the lease session asks the server to end it once it
// has been idle for Timeout (idle_session_timeout; a live holder speaks every Interval), and every
// statement of the session has Timeout to answer, after which the holder gives every lease up itself.
//
// Processes that run the same set of subscriptions (Balance) share its leases evenly: each holds at
// most its fair share, ceil(subscriptions / live peers), gives up what is over it (the subscription
// stops and saves its position first, then the lease is unlocked for a peer to take), and takes more
// only while under it. A peer that starts gets its share within a few intervals; when one dies, the
// others' shares grow and they take its leases over.
type Leases struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	interval time.Duration
	timeout  time.Duration // leaseTimeout(interval)
	// spoke is when (UnixNano) the last statement of the lease session that the server answered was
	// sent: the server's idle_session_timeout runs from no earlier. See Current.
	spoke atomic.Int64

	mu     sync.Mutex
	want   map[int32]*lease
	unlock []int32 // keys given back by their subscriptions, to unlock at the next step
	kick   chan struct{}
	// Balancing (0 and 0: none, take every wanted lease).
	setKey int32
	total  int
}

type lease struct {
	id     string
	key    int32
	held   bool
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed when the lease is taken
	drop   bool          // released by its subscription
	yield  bool          // being given up to a peer: its subscription is stopping
}

// NewLeases returns a lease holder that tries to take wanted leases every interval (default 2s).
func NewLeases(pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) *Leases {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Leases{pool: pool, log: log, interval: interval, timeout: leaseTimeout(interval),
		want: map[int32]*lease{}, kick: make(chan struct{}, 1)}
}

// leaseTimeout is how long a lease session may stay silent (the server then ends it and its locks go
// to a peer) and how long any of its statements may take (the holder then gives its leases up): many
// intervals, so that a busy process or a slow moment of the server does not move leases, and at least
// a few seconds.
func leaseTimeout(interval time.Duration) time.Duration {
	return max(5*interval, 5*time.Second)
}

// Balance says which subscriber ids this process runs: processes that run the same set share their
// leases evenly. Call it before Run.
func (l *Leases) Balance(ids []string) {
	set := slices.Clone(ids)
	slices.Sort(set)
	set = slices.Compact(set)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(set) == 0 {
		l.setKey, l.total = 0, 0
		return
	}
	l.setKey, l.total = leaseKey(strings.Join(set, "\n")), len(set)
}

func leaseKey(id string) int32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int32(h.Sum32())
}

// Acquire waits until this process holds the lease for id. The returned context is cancelled when the
// lease is lost; release gives it up.
func (l *Leases) Acquire(ctx context.Context, id string) (context.Context, func(), error) {
	key := leaseKey(id)
	l.mu.Lock()
	if old, ok := l.want[key]; ok && !old.drop {
		l.mu.Unlock()
		return nil, nil, errors.New("messagestore: lease " + id + " is already wanted in this process")
	}
	le := &lease{id: id, key: key, ready: make(chan struct{})}
	l.want[key] = le
	l.mu.Unlock()
	l.poke()
	select {
	case <-ctx.Done():
		l.release(le)
		return nil, nil, ctx.Err()
	case <-le.ready:
	}
	l.mu.Lock()
	lctx := le.ctx
	l.mu.Unlock()
	merged, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(lctx, cancel)
	return merged, func() { stop(); cancel(); l.release(le) }, nil
}

func (l *Leases) release(le *lease) {
	l.mu.Lock()
	le.drop = true
	if le.cancel != nil {
		le.cancel()
	}
	if l.want[le.key] == le {
		delete(l.want, le.key)
		if le.held {
			l.unlock = append(l.unlock, le.key)
		}
	}
	l.mu.Unlock()
	l.poke()
}

func (l *Leases) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Held lists the subscriber ids whose leases this process holds.
func (l *Leases) Held() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, le := range l.want {
		if le.held && !le.drop && !le.yield {
			out = append(out, le.id)
		}
	}
	return out
}

// Run keeps the lease connection until ctx is done.
func (l *Leases) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.session(ctx)
		l.loseAll()
		if ctx.Err() != nil {
			return nil
		}
		l.log.Warn("lease connection lost; every lease of this process is given up", "err", err, "retry in", backoff)
		sleep(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

func (l *Leases) session(ctx context.Context) error {
	pc, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The locks belong to this session, so the connection never returns to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	// The server ends the session when this process stops speaking: its locks are then free for a
	// peer. PostgreSQL before 14 has no idle_session_timeout; there a frozen holder keeps its leases
	// until TCP gives its connection up.
	if _, err := l.exec(ctx, conn, "SELECT set_config('idle_session_timeout', $1, false)",
		strconv.FormatInt(l.timeout.Milliseconds(), 10)); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42704" { // undefined_object: an older server
			return err
		}
		l.log.Warn("the database has no idle_session_timeout (PostgreSQL 14+): a process that stops answering keeps its leases until its connection times out")
	}
	l.mu.Lock()
	setKey := l.setKey
	l.mu.Unlock()
	if setKey != 0 {
		// Count this process among the peers for as long as the session (and its leases) lives.
		if _, err := l.exec(ctx, conn, `SELECT pg_advisory_lock_shared($1, $2)`, memberClass, setKey); err != nil {
			return err
		}
	}
	ticker := time.NewTicker(l.interval)
	defer ticker.Stop()
	for {
		if err := l.step(ctx, conn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.kick:
		case <-ticker.C:
		}
	}
}

// exec runs a statement of the lease session, which must answer within the lease timeout: a session
// that does not has lost its leases as far as the server's idle_session_timeout is concerned, or is
// cut off, and the caller then gives every lease up.
func (l *Leases) exec(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	return conn.Exec(ctx, sql, args...)
}

// peersSQL counts the sessions holding a set's member lock: the live processes that run that set.
const peersSQL = `SELECT count(*) FROM pg_catalog.pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 2
  AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND classid = $1::bigint::oid AND objid = $2::bigint::oid`

// step unlocks leases given back, works out this process's fair share, gives up leases over it and
// tries to take wanted ones under it, in as few statements as it can. When there is nothing to do it
// still checks that the connection (and so every lock on it) is alive.
func (l *Leases) step(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	sent := time.Now()
	answered := func() { l.spoke.Store(sent.UnixNano()) }
	l.mu.Lock()
	unlock := l.unlock
	l.unlock = nil
	var try []int32
	held := 0
	for key, le := range l.want {
		switch {
		case le.held && !le.yield:
			held++
		case !le.held:
			try = append(try, key)
		}
	}
	setKey, total := l.setKey, l.total
	l.mu.Unlock()

	queried := false
	if len(unlock) > 0 {
		queried = true
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, k) FROM unnest($2::int4[]) AS k`, leaseClass, unlock); err != nil {
			return err
		}
	}
	share := len(try) + held // no balancing: everything wanted
	if setKey != 0 {
		queried = true
		var peers int
		if err := conn.QueryRow(ctx, peersSQL, int64(uint32(memberClass)), int64(uint32(setKey))).Scan(&peers); err != nil {
			return err
		}
		answered()
		share = (total + max(peers, 1) - 1) / max(peers, 1)
		if held > share {
			l.yieldSome(held - share)
			return nil
		}
	}
	if n := min(len(try), share-held); n > 0 {
		// In random order, so that peers under their share do not all go for the same leases.
		rand.Shuffle(len(try), func(i, j int) { try[i], try[j] = try[j], try[i] })
		rows, err := conn.Query(ctx, `SELECT k FROM unnest($2::int4[]) AS k WHERE pg_try_advisory_lock($1, k) LIMIT $3`,
			leaseClass, try, n)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		answered()
		l.took(got)
		return nil
	}
	if !queried {
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			return err
		}
	}
	answered()
	return nil
}

// Current reports whether the lease session was answered recently enough that its leases are
// certainly still held: within four fifths of the lease timeout, after which the server may end a
// silent session (idle_session_timeout) and a peer take its leases. It is false in a process that was
// frozen (SIGSTOP, a paused VM) for longer than that, in the moment after it goes on and before its
// lease connection is found closed: a subscription checks it before each message, so that it does not
// start on one that a peer may be handling already.
func (l *Leases) Current() bool {
	at := l.spoke.Load()
	return at != 0 && time.Since(time.Unix(0, at)) < l.timeout*4/5
}

// took records the leases just taken.
func (l *Leases) took(keys []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range keys {
		le, ok := l.want[key]
		if !ok || le.drop {
			// Released while we were taking it: give it back at the next step.
			l.unlock = append(l.unlock, key)
			l.poke()
			continue
		}
		le.held = true
		le.ctx, le.cancel = context.WithCancel(context.Background())
		close(le.ready)
	}
}

// yieldSome gives up n held leases for peers to take: their subscriptions stop (saving their
// positions), release them, and the next step unlocks them.
func (l *Leases) yieldSome(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, le := range l.want {
		if n == 0 {
			break
		}
		if le.held && !le.yield && !le.drop {
			le.yield = true
			le.cancel()
			l.log.Info("lease given up to a peer process", "subscriber", le.id)
			n--
		}
	}
}

func (l *Leases) loseAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unlock = nil // the locks went with the connection
	for key, le := range l.want {
		if le.held || le.drop {
			// A held lease is gone with its connection: its subscription stops at once and will
			// Acquire anew. Waiters that never held theirs stay wanted.
			if le.cancel != nil {
				le.cancel()
			}
			delete(l.want, key)
		}
	}
}
