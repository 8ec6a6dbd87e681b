package messagestore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit for hot categories.
//
// write_message serialises every writer of a category on one advisory lock (that is what keeps category
// readers from skipping messages), so under load concurrent writes to one category queue for the lock
// one transaction at a time. Writes without an expected version do not depend on each other, so the
// combiner lets them share transactions: a write to a category with no flusher running starts one, a
// goroutine that writes what is queued; writers that arrive while a transaction is in flight queue up,
// and the flusher writes all of them in the next transaction, one round trip for the lot. At low load
// nothing waits but the goroutine start; at high load the number of transactions (and lock hand-overs)
// drops by the batch factor.
//
// Each stream's messages keep their order (they are queued in arrival order), and every write still
// goes through message_store's write functions under the category lock, so positions stay gapless. A
// combined transaction is one statement: write_messages_to_streams takes the category lock once, reads
// each stream's version once and inserts the whole batch as one multi-row INSERT, so a message costs a
// row, not a function call, a lock call and a version lookup. If a combined transaction fails (one bad
// message poisons a transaction), each write in it is retried alone, so one writer's error is never
// another's; if its answer is lost, the writes found in the store are done and the others are retried
// (outcome.go).

const maxCombined = 256 // messages per combined transaction

// defaultMaxInFlight is how many combined transactions of one category may be under way at once. One:
// everything that queues while a batch is at the server goes in the next batch. A second batch in
// flight would already be at the server, waiting for the category lock, when the current one commits,
// so the lock would pass on without waiting for this process to notice the commit and send the next;
// but each batch would then be about half as large, and the statement, lock, version look-ups and
// commit that every batch costs would be paid twice as often. Where the machine's CPU is what limits
// (PostgreSQL and the program on the same cores), one in flight carried 1.08-1.21x the viewings of
// two through the whole program, and 1.08-1.11x the writes in BenchmarkHotCategoryWrites
// (docs/BENCHMARKS.md, "Hot category"). With more than one, only writes that are under way together
// (none has returned yet) can land in different in-flight batches, so no caller can see an order
// between them; each caller's own writes are sequential either way.
const defaultMaxInFlight = 1

type pendingWrite struct {
	ctx    context.Context // the caller's
	stream string
	msgs   []encodedMessage
	pos    int64
	err    error
	done   chan struct{} // closed when the write has landed or failed
	// state is queued until a flusher takes the write into a batch (taken) or its caller gives up
	// first (dropped): whichever comes first wins, so a write whose caller was told it failed while
	// it was still queued is never written.
	state atomic.Int32
}

const (
	queued int32 = iota
	taken
	dropped
)

type encodedMessage struct {
	id, typ        string
	data, metadata []byte
}

type combiner struct {
	store       *Store
	maxInFlight int
	mu          sync.Mutex
	queue       map[string][]*pendingWrite // by category
	flushers    map[string]int             // by category: goroutines draining its queue
}

func newCombiner(s *Store) *combiner {
	return &combiner{store: s, maxInFlight: defaultMaxInFlight,
		queue: map[string][]*pendingWrite{}, flushers: map[string]int{}}
}

// write queues a write and waits for it. The writing is done by flusher goroutines, not by a caller:
// under sustained load a caller that drained the queue for others would keep its own request waiting
// for as long as the load lasts.
func (c *combiner) write(ctx context.Context, stream string, msgs []encodedMessage) (int64, error) {
	category := Category(stream)
	w := &pendingWrite{ctx: ctx, stream: stream, msgs: msgs, done: make(chan struct{})}
	c.mu.Lock()
	c.queue[category] = append(c.queue[category], w)
	start := c.flushers[category] < c.maxInFlight
	if start {
		c.flushers[category]++
	}
	c.mu.Unlock()
	if start {
		go c.drain(category)
	}
	select {
	case <-w.done:
		return w.pos, w.err
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, dropped) {
			return 0, ctx.Err() // still queued: no flusher will write it
		}
		// Already in a batch: like any cancelled database call, its outcome is unknown (its batch is
		// cancelled, and the writes of the callers still waiting are written again without it, but it
		// may be committing already).
		return 0, ctx.Err()
	}
}

// drain writes queued batches of category until the queue is empty. The batches carry several
// callers' writes, and a caller that gives up is told at once that its write failed, so a batch is
// cancelled as soon as one of its callers gives up (a stalled database, a request deadline: otherwise
// that write would land later, after its caller was told it failed, and a retry would write it twice);
// the writes of the callers still waiting are then written again without it (flush). A timeout bounds
// each batch.
func (c *combiner) drain(category string) {
	for {
		c.mu.Lock()
		q := c.queue[category]
		var batch []*pendingWrite
		n, count := 0, 0
		for ; n < len(q); n++ {
			w := q[n]
			if len(batch) > 0 && count+len(w.msgs) > maxCombined {
				break
			}
			if w.ctx.Err() != nil {
				// Its caller gave up and returns without waiting for it: dropped, not taken into a
				// batch that its caller's cancellation would cancel.
				w.state.CompareAndSwap(queued, dropped)
				continue
			}
			if !w.state.CompareAndSwap(queued, taken) {
				continue // its caller gave up while it waited: dropped
			}
			batch = append(batch, w)
			count += len(w.msgs)
		}
		if n == len(q) {
			delete(c.queue, category)
		} else {
			c.queue[category] = q[n:]
		}
		if len(batch) == 0 {
			if c.flushers[category]--; c.flushers[category] == 0 {
				delete(c.flushers, category)
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c.flush(ctx, batch)
		cancel()
	}
}

// send writes ws in one statement (sendWrites), cancelled as soon as the caller of any of them gives
// up: that caller was told its write failed, so the statement must not commit it.
func (c *combiner) send(ctx context.Context, ws []*pendingWrite) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stops := make([]func() bool, len(ws))
	for i, w := range ws {
		stops[i] = context.AfterFunc(w.ctx, cancel)
	}
	err := c.store.sendWrites(ctx, ws)
	for _, stop := range stops {
		stop()
	}
	return err
}

func (c *combiner) flush(ctx context.Context, batch []*pendingWrite) {
	err := c.send(ctx, batch)
	if err == nil {
		for _, w := range batch {
			close(w.done)
		}
		return
	}
	lost := outcomeUnknown(err)
	if lost {
		// The batch may have committed (see outcome.go): the writes found in the store are done.
		if batch = c.store.settleLost(ctx, batch); len(batch) == 0 {
			return
		}
	}
	if len(batch) == 1 && !lost {
		batch[0].err = err
		close(batch[0].done)
		return
	}
	// Find the culprit, write again what a caller's giving up cancelled, or what a lost answer left
	// unsettled: every write again in a transaction of its own, under the same message ids, but not
	// those whose callers have given up meanwhile (they were told it failed).
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			close(w.done)
			continue
		}
		w.err = c.send(ctx, []*pendingWrite{w})
		if w.err != nil && lost && (outcomeUnknown(w.err) || isDuplicateID(w.err)) {
			// The first attempt may have committed after the look-up; a duplicate id says it did.
			if rest := c.store.settleLost(ctx, []*pendingWrite{w}); len(rest) == 0 {
				continue // settled: done is closed
			}
		}
		close(w.done)
	}
}

// writeToStreamsSQL writes a combined batch in one statement: message i to stream i, one lock per
// category, one version lookup per stream, one multi-row INSERT (migration 00006).
const writeToStreamsSQL = `SELECT message_store.write_messages_to_streams($1, $2, $3, $4::text[]::jsonb[], $5::text[]::jsonb[])`

// sendWrites writes every pending write in one statement, and so one transaction and one round trip,
// and records each write's position (that of its last message). The messages go in queue order, so
// each stream's messages keep the order their writes arrived in.
func (s *Store) sendWrites(ctx context.Context, ws []*pendingWrite) error {
	if len(ws) == 1 && len(ws[0].msgs) == 1 {
		// Nothing to combine (the common case at low load): the plain single write.
		w, m := ws[0], ws[0].msgs[0]
		err := s.pool.QueryRow(ctx, writeSQL, m.id, w.stream, m.typ, string(m.data), string(m.metadata), nil).Scan(&w.pos)
		return translate(err)
	}
	n := 0
	for _, w := range ws {
		n += len(w.msgs)
	}
	ids, streams, types := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	data, mds := make([]string, 0, n), make([]string, 0, n)
	for _, w := range ws {
		for _, m := range w.msgs {
			ids, streams, types = append(ids, m.id), append(streams, w.stream), append(types, m.typ)
			data, mds = append(data, string(m.data)), append(mds, string(m.metadata))
		}
	}
	var positions []int64
	if err := s.pool.QueryRow(ctx, writeToStreamsSQL, ids, streams, types, data, mds).Scan(&positions); err != nil {
		return translate(err)
	}
	if len(positions) != n {
		return fmt.Errorf("messagestore: combined write of %d messages returned %d positions", n, len(positions))
	}
	i := 0
	for _, w := range ws {
		i += len(w.msgs)
		w.pos = positions[i-1]
	}
	return nil
}
