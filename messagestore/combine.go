package messagestore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Group commit for hot categories.
//
// write_message serialises every writer of a category on one advisory lock (that is what keeps category
// readers from skipping messages), so under load concurrent writes to one category queue for the lock
// one transaction at a time. Writes without an expected version do not depend on each other, so the
// combiner lets them share transactions: the first writer of a category becomes the leader and writes;
// writers that arrive while a transaction is in flight queue up, and the leader writes all of them in
// the next transaction, one round trip for the lot. At low load nothing waits; at high load the number
// of transactions (and lock hand-overs) drops by the batch factor.
//
// Each stream's messages keep their order (they are queued in arrival order), and every write still
// goes through message_store's write functions under the category lock, so positions stay gapless. A
// combined transaction is set-based rather than one statement per message: the writes to a stream
// that has several in the batch go in one write_messages call (one multi-row INSERT), and the rest
// in one statement that calls write_message for each row of the arrays it is given. If a combined transaction fails (one bad
// message poisons a transaction), each write in it is retried alone, so one writer's error is never
// another's.

const maxCombined = 256 // messages per combined transaction

type pendingWrite struct {
	stream string
	msgs   []encodedMessage
	pos    int64
	err    error
	done   chan struct{}
}

type encodedMessage struct {
	id, typ        string
	data, metadata []byte
}

type combiner struct {
	store *Store
	mu    sync.Mutex
	queue map[string][]*pendingWrite // by category
	busy  map[string]bool
}

func newCombiner(s *Store) *combiner {
	return &combiner{store: s, queue: map[string][]*pendingWrite{}, busy: map[string]bool{}}
}

func (c *combiner) write(ctx context.Context, stream string, msgs []encodedMessage) (int64, error) {
	category := Category(stream)
	w := &pendingWrite{stream: stream, msgs: msgs, done: make(chan struct{})}
	c.mu.Lock()
	c.queue[category] = append(c.queue[category], w)
	lead := !c.busy[category]
	if lead {
		c.busy[category] = true
	}
	c.mu.Unlock()
	if lead {
		c.drain(ctx, category)
	}
	select {
	case <-w.done:
		return w.pos, w.err
	case <-ctx.Done():
		// The write may still land: like any cancelled database call, its outcome is unknown.
		return 0, ctx.Err()
	}
}

// drain writes queued batches of category until the queue is empty.
func (c *combiner) drain(ctx context.Context, category string) {
	// The batch carries other callers' writes: the leader's cancellation must not cancel them.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for {
		c.mu.Lock()
		q := c.queue[category]
		n, count := 0, 0
		for n < len(q) && (n == 0 || count+len(q[n].msgs) <= maxCombined) {
			count += len(q[n].msgs)
			n++
		}
		batch := q[:n]
		if n == len(q) {
			delete(c.queue, category)
		} else {
			c.queue[category] = q[n:]
		}
		if len(batch) == 0 {
			delete(c.busy, category)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.flush(bctx, batch)
	}
}

func (c *combiner) flush(ctx context.Context, batch []*pendingWrite) {
	err := c.store.sendWrites(ctx, batch)
	if err != nil && len(batch) > 1 {
		// Find the culprit: every write again in a transaction of its own.
		for _, w := range batch {
			w.err = c.store.sendWrites(ctx, []*pendingWrite{w})
			close(w.done)
		}
		return
	}
	for _, w := range batch {
		w.err = err
		close(w.done)
	}
}

// writeRowsSQL calls write_message once per row of its arrays, in array order, in one statement.
// (PostgreSQL evaluates a volatile function of the select list after the sort, so in order n.)
const writeRowsSQL = `SELECT message_store.write_message(m.id, m.stream_name, m.type, m.data, m.metadata, NULL::bigint)
FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::text[]::jsonb[], $5::text[]::jsonb[])
    WITH ORDINALITY AS m(id, stream_name, type, data, metadata, n)
ORDER BY m.n`

// writeStreamSQL writes several messages to one stream: one multi-row INSERT.
const writeStreamSQL = `SELECT message_store.write_messages($1, $2, $3, $4::text[]::jsonb[], $5::text[]::jsonb[], NULL::bigint)`

// streamGroup is the pending writes of a batch to one stream, in arrival order.
type streamGroup struct {
	stream string
	ws     []*pendingWrite
	n      int // messages
}

// sendWrites writes every pending write in one transaction (one round trip) and records positions.
// Streams with several messages in the batch are written with write_messages, the other messages
// with one write_message-per-row statement.
func (s *Store) sendWrites(ctx context.Context, ws []*pendingWrite) error {
	var groups []*streamGroup
	byStream := make(map[string]*streamGroup, len(ws))
	for _, w := range ws {
		g := byStream[w.stream]
		if g == nil {
			g = &streamGroup{stream: w.stream}
			byStream[w.stream] = g
			groups = append(groups, g)
		}
		g.ws = append(g.ws, w)
		g.n += len(w.msgs)
	}
	b := &pgx.Batch{}
	var multi []*streamGroup
	var singles []*pendingWrite
	var ids, streams, types, data, mds []string
	for _, g := range groups {
		if g.n == 1 {
			w := g.ws[0]
			m := w.msgs[0]
			singles = append(singles, w)
			ids, streams, types = append(ids, m.id), append(streams, w.stream), append(types, m.typ)
			data, mds = append(data, string(m.data)), append(mds, string(m.metadata))
			continue
		}
		multi = append(multi, g)
		gids, gtypes := make([]string, 0, g.n), make([]string, 0, g.n)
		gdata, gmds := make([]string, 0, g.n), make([]string, 0, g.n)
		for _, w := range g.ws {
			for _, m := range w.msgs {
				gids, gtypes = append(gids, m.id), append(gtypes, m.typ)
				gdata, gmds = append(gdata, string(m.data)), append(gmds, string(m.metadata))
			}
		}
		b.Queue(writeStreamSQL, g.stream, gids, gtypes, gdata, gmds)
	}
	switch len(singles) {
	case 0:
	case 1:
		b.Queue(writeSQL, ids[0], streams[0], types[0], data[0], mds[0], nil)
	default:
		b.Queue(writeRowsSQL, ids, streams, types, data, mds)
	}
	// A batch runs as one implicit transaction: everything lands, or nothing.
	br := s.pool.SendBatch(ctx, b)
	err := func() error {
		for _, g := range multi {
			var last int64
			if err := br.QueryRow().Scan(&last); err != nil {
				return err
			}
			// The group's messages are consecutive in its stream: hand positions back from the end.
			for i := len(g.ws) - 1; i >= 0; i-- {
				g.ws[i].pos = last
				last -= int64(len(g.ws[i].msgs))
			}
		}
		if len(singles) == 0 {
			return nil
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		i := 0
		for rows.Next() {
			if i >= len(singles) {
				rows.Close()
				return errors.New("messagestore: combined write returned too many rows")
			}
			if err := rows.Scan(&singles[i].pos); err != nil {
				rows.Close()
				return err
			}
			i++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if i != len(singles) {
			return errors.New("messagestore: combined write returned too few rows")
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return translate(err)
}
