package messagestore_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/messagestore"
)

// answerCutter drops a connection after the server had time to commit the statement it was sent,
// and before the program reads the answer: the write commits and its caller never hears so, as when
// a database restart or a network cut comes at that instant.
type answerCutter struct {
	armed atomic.Bool // the next statement sent on any connection loses its answer
	cuts  atomic.Int32
}

func (a *answerCutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: c, cutter: a}, nil
}

type cutConn struct {
	net.Conn
	cutter *answerCutter
	mu     sync.Mutex
	sent   bool // a statement went out while the cutter was armed
}

// executes reports whether b holds an Execute message of the extended protocol.
func executes(b []byte) bool {
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if b[0] == 'E' {
			return true
		}
		if n < 4 || 1+n > len(b) {
			return false
		}
		b = b[1+n:]
	}
	return false
}

func (c *cutConn) Write(b []byte) (int, error) {
	if c.cutter.armed.Load() && executes(b) {
		c.mu.Lock()
		c.sent = true
		c.mu.Unlock()
	}
	return c.Conn.Write(b)
}

func (c *cutConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	cut := c.sent && c.cutter.armed.CompareAndSwap(true, false)
	c.mu.Unlock()
	if cut {
		time.Sleep(300 * time.Millisecond) // the server runs and commits the statement meanwhile
		c.cutter.cuts.Add(1)
		c.Conn.Close()
		return 0, io.ErrUnexpectedEOF
	}
	return c.Conn.Read(b)
}

// newCutStore returns a store whose connections go through an answerCutter.
func newCutStore(t *testing.T, opts messagestore.Options) (*messagestore.Store, *answerCutter) {
	t.Helper()
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	messagestore.CancelStatementsOnServer(pc)
	cutter := &answerCutter{}
	pc.ConnConfig.DialFunc = cutter.dial
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opts.Logger = quiet
	return messagestore.New(pool, opts), cutter
}

// warm writes a message to a fresh stream of cat, so that the store's connection is open and its
// statements are prepared before a test arms the cutter.
func warm(t *testing.T, s *messagestore.Store, cat string) {
	t.Helper()
	if _, err := s.Write(context.Background(), messagestore.StreamName(cat, uuid.NewString()), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "Warm"}); err != nil {
		t.Fatal(err)
	}
}

func streamLength(t *testing.T, s *messagestore.Store, stream string) int {
	t.Helper()
	msgs, err := s.ReadStream(context.Background(), stream, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// A write that committed is reported as written, even when its answer was lost on the way: the
// store finds its message id. Before, the caller was told it failed, and a retry wrote it twice.
func TestWriteWhoseAnswerIsLostIsFoundInTheStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts messagestore.Options
		ev   int64
	}{
		{"one transaction per write", messagestore.Options{NoCombining: true}, messagestore.AnyVersion},
		{"expected version", messagestore.Options{}, messagestore.NoStream},
		{"combined", messagestore.Options{}, messagestore.AnyVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, cutter := newCutStore(t, tc.opts)
			cat := fresh("lost")
			warm(t, s, cat)
			stream := messagestore.StreamName(cat, uuid.NewString())
			cutter.armed.Store(true)
			pos, err := s.Write(ctx, stream, tc.ev, messagestore.NewMessage{Type: "Written"})
			if cutter.cuts.Load() != 1 {
				t.Fatalf("%d answers cut, want 1", cutter.cuts.Load())
			}
			if err != nil || pos != 0 {
				t.Fatalf("write whose answer was lost: position %d, %v; want 0 and no error (it committed)", pos, err)
			}
			if n := streamLength(t, s, stream); n != 1 {
				t.Fatalf("%d messages in the stream, want 1", n)
			}
		})
	}
}

// A lost answer that leaves the write uncommitted is still a failure (nothing found): here the
// statement never committed, because the category lock it waited for was held until after the cut.
func TestWriteWhoseAnswerIsLostBeforeItCommittedFails(t *testing.T) {
	ctx := context.Background()
	s, cutter := newCutStore(t, messagestore.Options{NoCombining: true})
	holder := newStore(t)
	cat := fresh("lostearly")
	warm(t, s, cat)
	tx := holdCategoryLock(t, holder, cat)
	stream := messagestore.StreamName(cat, uuid.NewString())
	cutter.armed.Store(true)
	_, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "Written"})
	if err == nil {
		t.Fatal("a write cut off while it waited for the lock reported success")
	}
	// The server notices the closed connection only when it answers; let the statement go on, and
	// see that whatever it did, the store holds at most one copy.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the cut statement to end", func() bool { return !advisoryLockWaited(holder)() })
	if n := streamLength(t, s, stream); n > 1 {
		t.Fatalf("%d messages in the stream, want at most 1", n)
	}
}

// lostBatch is a combined-batch scenario: a store whose answers can be cut (one batch at a time, its
// connection warm), the category lock held by another store, and writers whose results are collected.
type lostBatch struct {
	s       *messagestore.Store
	cutter  *answerCutter
	holder  *messagestore.Store
	cat     string
	lock    pgx.Tx
	streams []string
	results chan lostResult
}

type lostResult struct {
	stream string
	pos    int64
	err    error
}

func newLostBatch(t *testing.T, prefix string) *lostBatch {
	t.Helper()
	b := &lostBatch{holder: newStore(t), cat: fresh(prefix), results: make(chan lostResult, 8)}
	b.s, b.cutter = newCutStore(t, messagestore.Options{})
	messagestore.SetMaxInFlight(b.s, 1) // the next batch forms while the first waits
	warm(t, b.s, b.cat)
	b.lock = holdCategoryLock(t, b.holder, b.cat)
	return b
}

// write starts a write of one message to a fresh stream of the category.
func (b *lostBatch) write() {
	stream := messagestore.StreamName(b.cat, uuid.NewString())
	b.streams = append(b.streams, stream)
	go func() {
		pos, err := b.s.Write(context.Background(), stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "Written"})
		b.results <- lostResult{stream, pos, err}
	}()
}

// release lets the writes go on, and checks that every writer was told it succeeded and that every
// message is in the store once.
func (b *lostBatch) release(t *testing.T) {
	t.Helper()
	if err := b.lock.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range b.streams {
		r := <-b.results
		if r.err != nil || r.pos != 0 {
			t.Errorf("write to %s: position %d, %v; want 0 and no error", r.stream, r.pos, r.err)
		}
	}
	if b.cutter.cuts.Load() != 1 {
		t.Fatalf("%d answers cut, want 1", b.cutter.cuts.Load())
	}
	for _, stream := range b.streams {
		if n := streamLength(t, b.s, stream); n != 1 {
			t.Errorf("%d messages in %s, want 1", n, stream)
		}
	}
}

// A combined batch whose answer was lost committed for all its writers: each is told its write
// succeeded, with its own position. Before, every write of the batch was written again, met its
// own id in the store, and failed on the duplicate.
func TestCombinedBatchWhoseAnswerIsLostIsFoundInTheStore(t *testing.T) {
	b := newLostBatch(t, "lostbatch")
	// The first write waits for the lock alone; the next ones queue and go as one batch after it.
	b.write()
	eventually(t, 10*time.Second, "the first write to wait for the lock", advisoryLockWaited(b.holder))
	for range 4 {
		b.write()
	}
	time.Sleep(100 * time.Millisecond) // all four queued behind the first
	b.cutter.armed.Store(true)         // the batch after the first loses its answer
	b.release(t)
}

// A combined batch whose answer was lost while it still waited for the category lock: the look-up
// finds nothing, so each write goes again under its own id, and waits for the lock behind the first
// attempt, which the server still runs and commits (it notices the closed connection only when it
// answers). Each second attempt then fails on its duplicate id, and the look-up finds the write:
// every writer is told it succeeded, and every message is in the store once.
func TestCombinedBatchCutOffBeforeItCommittedIsWrittenOnce(t *testing.T) {
	b := newLostBatch(t, "cutbatch")
	// The first write is alone in its batch and waits for the lock; it loses its answer there.
	b.cutter.armed.Store(true)
	b.write()
	eventually(t, 10*time.Second, "the first write to wait for the lock", advisoryLockWaited(b.holder))
	for range 3 {
		b.write()
	}
	eventually(t, 10*time.Second, "the answer to be cut", func() bool { return b.cutter.cuts.Load() == 1 })
	time.Sleep(300 * time.Millisecond) // the look-up found nothing; the write goes again and waits
	b.release(t)
}
