package messagestore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// AllCategories is the signal key that fires for a write to any category (for store-wide readers).
const AllCategories = "$all"

// signals wakes waiting readers of a category. A reader takes the category's channel before it reads;
// a write that commits after the read closes that channel, so no wake-up is ever lost between "read
// found nothing" and "wait".
type signals struct {
	mu sync.Mutex
	ch map[string]chan struct{}
	// listening is true while Run's LISTEN connection is up: writes of other processes then wake this
	// process's subscriptions too, so that idle subscriptions can poll far less often.
	listening atomic.Bool
	// written counts the messages this process wrote (checkHead).
	written atomic.Uint64
}

func newSignals() *signals { return &signals{ch: map[string]chan struct{}{}} }

func (s *signals) wait(category string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ch[category]
	if !ok {
		c = make(chan struct{})
		s.ch[category] = c
	}
	return c
}

func (s *signals) fire(category string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{category, AllCategories} {
		if c, ok := s.ch[key]; ok {
			close(c)
			delete(s.ch, key)
		}
	}
}

// Listening reports whether the store receives other processes' write announcements (Run's LISTEN
// connection is up).
func (s *Store) Listening() bool { return s.signals.listening.Load() }

// WaitFor returns a channel closed by the next write to category (AllCategories: to any category)
// made by this process, or announced by another one through NOTIFY.
func (s *Store) WaitFor(category string) <-chan struct{} { return s.signals.wait(category) }

// notifyChannel is the LISTEN/NOTIFY channel; the payload is the category written to.
const notifyChannel = "message_store"

// retryChannel carries retry requests for parked subscriptions between processes; the payload is the
// subscriber id.
const retryChannel = "message_store_retry"

// RequestRetry asks every process that listens on this store (Run) to retry the subscription
// subscriberID if it runs it and it is parked: the way to retry a subscription another process runs
// (Subscription.Retry retries one of this process). Where it runs and is not parked, a park its status
// stream still announces is cleared (Resumed); elsewhere nothing happens.
func (s *Store) RequestRetry(ctx context.Context, subscriberID string) error {
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, retryChannel, subscriberID); err != nil {
		return fmt.Errorf("request retry of %s: %w", subscriberID, err)
	}
	return nil
}

// onRetryRequest sets what receives the retry requests that reach this process (the Supervisor).
func (s *Store) onRetryRequest(f func(subscriberID string)) { s.retries.Store(&f) }

// notifySQL announces writes to categories ($2) on the channel ($1), one notification per category.
const notifySQL = `SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c`

// notifier tells other processes about writes. Writers do not NOTIFY inside their own transaction:
// Postgres serialises the commits of every transaction that notifies, which would throttle the very
// writers the category lock already serialises. Instead categories are queued and one goroutine sends
// them a moment later, coalesced, outside any writer's transaction, on a connection of its own: the
// LISTEN side knows that connection's backend, and ignores this process's own announcements (its
// readers were woken in process already, and waking them again costs each of them a read).
type notifier struct {
	store   *Store
	mu      sync.Mutex
	pending map[string]struct{}
	kick    chan struct{}
	running bool
	pid     atomic.Uint32 // backend process id of the notify connection, 0 while there is none
}

// notifyGap is the least time between two NOTIFY statements of a process. Under a write load the
// writes of a whole gap share one statement (at most 1,000 a second instead of one per write); an
// idle process's first write is announced at once.
const notifyGap = time.Millisecond

func newNotifier(s *Store) *notifier {
	return &notifier{store: s, pending: map[string]struct{}{}, kick: make(chan struct{}, 1)}
}

func (n *notifier) queue(category string) {
	n.mu.Lock()
	if !n.running {
		n.mu.Unlock()
		return
	}
	n.pending[category] = struct{}{}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *notifier) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.pending))
	for c := range n.pending {
		out = append(out, c)
	}
	clear(n.pending)
	return out
}

func (n *notifier) send(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			n.pid.Store(0)
			conn.Close(context.Background())
		}
	}()
	// The same connection looks at the store's head every headCheck (checkHead): a connection of its
	// own, because a pooled one idle for a second is pinged before use, which doubles what an idle
	// program costs its database.
	var headTick <-chan time.Time
	if d := n.store.headCheck; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		headTick = t.C
	}
	head := headWatch{last: -1}
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-headTick:
			if conn == nil {
				c, err := pgx.ConnectConfig(ctx, n.store.pool.Config().ConnConfig.Copy())
				if err != nil {
					continue // polling stays the rule
				}
				conn = c
				n.pid.Store(conn.PgConn().PID())
			}
			if err := n.store.checkHead(ctx, conn, &head); err != nil && ctx.Err() == nil {
				n.pid.Store(0)
				conn.Close(context.Background())
				conn = nil
			}
			continue
		case <-n.kick:
		}
		if wait := notifyGap - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		cats := n.take()
		if len(cats) == 0 {
			continue
		}
		last = time.Now()
		if conn == nil {
			c, err := pgx.ConnectConfig(ctx, n.store.pool.Config().ConnConfig.Copy())
			if err != nil {
				if ctx.Err() == nil {
					n.store.log.Debug("notify connection failed; other processes will find the messages by polling", "err", err)
				}
				continue
			}
			conn = c
			n.pid.Store(conn.PgConn().PID())
		}
		// One statement for every category written since the last send.
		_, err := conn.Exec(ctx, notifySQL, notifyChannel, cats)
		if err != nil && ctx.Err() == nil {
			n.store.log.Debug("notify failed; other processes will find the messages by polling", "err", err)
			n.pid.Store(0)
			conn.Close(context.Background())
			conn = nil
		}
	}
}

// Announce tells every process that listens (Store.Run) that categories were written, at once, on a
// connection of the pool. It is for short-lived writers that do not run Store.Run, such as a command
// line tool: without it, the running program finds their messages only at its next idle poll (up to
// ListeningMaxPollInterval later).
func (s *Store) Announce(ctx context.Context, categories ...string) error {
	if len(categories) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, notifySQL, notifyChannel, categories); err != nil {
		return fmt.Errorf("announce writes to %v: %w", categories, err)
	}
	return nil
}

// Run forwards wake-ups between processes until ctx is done: it sends NOTIFYs for this process's writes
// and LISTENs for other processes' writes, reconnecting with back-off. Polling stays the source of
// truth, so a lost notification only delays a reader until its next poll.
func (s *Store) Run(ctx context.Context) error {
	s.notifier.mu.Lock()
	s.notifier.running = true
	s.notifier.mu.Unlock()
	go s.notifier.send(ctx)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx)
		if ctx.Err() != nil {
			break
		}
		s.log.Warn("message store LISTEN connection lost; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

func (s *Store) listen(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries LISTEN state, so it must not go back to the pool.
	defer func() { conn.Hijack().Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize()+"; LISTEN "+
		pgx.Identifier{retryChannel}.Sanitize()); err != nil {
		return err
	}
	// Something may have been written while we were not listening: wake everyone to look.
	s.signals.listening.Store(true)
	defer s.signals.listening.Store(false)
	s.signals.fireAll()
	// Shutdown closes the socket under the wait instead of cancelling the wait: the pool's connections
	// answer a cancelled context with a cancel request for the running statement
	// (CancelStatementsOnServer), and there is none here, so the wait would last the second it gives
	// the server to answer.
	stop := context.AfterFunc(ctx, func() { _ = conn.Conn().PgConn().Conn().Close() })
	defer stop()
	for {
		n, err := conn.Conn().WaitForNotification(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		if n.Channel == retryChannel {
			if f := s.retries.Load(); f != nil {
				(*f)(n.Payload)
			}
			continue
		}
		if n.PID != 0 && n.PID == s.notifier.pid.Load() {
			continue // this process's own announcement: its readers were woken when it wrote
		}
		s.signals.fire(strings.TrimSpace(n.Payload))
	}
}

func (s *signals) fireAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.ch {
		close(c)
		delete(s.ch, k)
	}
}

// headSQL reads the store's last global position: a backward scan of the primary key, one entry.
const headSQL = `SELECT coalesce(max(global_position), 0) FROM message_store.messages`

// headWatch is what checkHead remembers between two looks.
type headWatch struct {
	last    int64  // the head at the last look; -1 before the first
	written uint64 // signals.written at the last look
}

// checkHead wakes every subscription of this process when the store's last global position moved
// since the previous look by more than this process's own writes account for (notifier.send calls it
// every headCheck). Writes of this program's processes
// wake their readers at once (in-process signals, NOTIFY); this is for writes nobody announced, such
// as another Message DB client's, which would otherwise wait for the idle polls, however busy this
// process is with its own writes. A single process's own writes, position saves included, account
// for the whole move and wake nothing more; with several processes, another one's writes make each
// look wake everything, a read per subscription every headCheck while they last. (Gaps in the global
// positions, from rolled-back writes, look like someone else's writes: one wake-up too many.)
func (s *Store) checkHead(ctx context.Context, conn *pgx.Conn, w *headWatch) error {
	// Counted before the look: every write counted has committed, so the head includes it.
	written := s.signals.written.Load()
	var head int64
	if err := conn.QueryRow(ctx, headSQL).Scan(&head); err != nil {
		return err
	}
	if w.last >= 0 && head > w.last && uint64(head-w.last) > written-w.written {
		s.signals.fireAll()
	}
	w.last, w.written = head, written
	return nil
}
