package messagestore

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// leaseClass is the first key of the two-key advisory locks that hold subscription leases. Two-key
// advisory locks live in a key space of their own, apart from the one-key (bigint) category locks
// that write_message takes.
const leaseClass int32 = 0x56545355 // "VTSU"

// Leases makes sure each subscriber id runs in at most one process at a time when several processes
// share a database. A lease is a session-level advisory lock held on one dedicated connection per
// process: when the process dies its connection closes, Postgres releases the locks, and another
// process's next attempt (every Interval) takes them over. If the connection is lost, every lease this
// process held is cancelled at once, before anyone else can take it.
type Leases struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	want map[int32]*lease
	kick chan struct{}
}

type lease struct {
	id     string
	key    int32
	held   bool
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed when the lease is taken
	drop   bool          // released by its subscription: unlock and forget
}

// NewLeases returns a lease holder that tries to take wanted leases every interval (default 2s).
func NewLeases(pool *pgxpool.Pool, log *slog.Logger, interval time.Duration) *Leases {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Leases{pool: pool, log: log, interval: interval, want: map[int32]*lease{}, kick: make(chan struct{}, 1)}
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
		if le.held && !le.drop {
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

// step releases dropped leases, tries to take wanted ones in one statement, or, when there is nothing
// to do, checks that the connection (and so every lock on it) is still alive.
func (l *Leases) step(ctx context.Context, conn *pgx.Conn) error {
	l.mu.Lock()
	var drop, try []int32
	for key, le := range l.want {
		switch {
		case le.drop:
			if le.held {
				drop = append(drop, key)
			}
			delete(l.want, key)
		case !le.held:
			try = append(try, key)
		}
	}
	l.mu.Unlock()

	if len(drop) > 0 {
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, k) FROM unnest($2::int4[]) AS k`, leaseClass, drop); err != nil {
			return err
		}
	}
	if len(try) == 0 {
		if len(drop) == 0 {
			_, err := conn.Exec(ctx, "SELECT 1")
			return err
		}
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT k FROM unnest($2::int4[]) AS k WHERE pg_try_advisory_lock($1, k)`, leaseClass, try)
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range got {
		le, ok := l.want[key]
		if !ok || le.drop {
			// Released while we were taking it: give it back on the next step.
			l.want[key] = &lease{key: key, held: true, drop: true}
			continue
		}
		le.held = true
		le.ctx, le.cancel = context.WithCancel(context.Background())
		close(le.ready)
	}
	return nil
}

func (l *Leases) loseAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
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
