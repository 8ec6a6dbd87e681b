package messagestore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"videotutorials/messagestore"
)

// With one combined transaction in flight (the default) and with two, where writes under way together
// may land in different batches.
func TestConcurrentWritesToOneCategoryAreCombinedWithoutLossOrReordering(t *testing.T) {
	for _, inFlight := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d-in-flight", inFlight), func(t *testing.T) {
			concurrentWritesWithoutLossOrReordering(t, inFlight)
		})
	}
}

func concurrentWritesWithoutLossOrReordering(t *testing.T, inFlight int) {
	ctx := context.Background()
	s := newStore(t)
	messagestore.SetMaxInFlight(s, inFlight)
	cat := fresh("hot")
	const writers, each = 32, 20
	streams := make([]string, 4)
	for i := range streams {
		streams[i] = messagestore.StreamName(cat, uuid.NewString())
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := streams[w%len(streams)]
			for i := range each {
				// Each writer's own messages must come out in the order it wrote them.
				_, err := s.Write(ctx, stream, messagestore.AnyVersion,
					messagestore.NewMessage{Type: "Seq", Data: map[string]int{"writer": w, "seq": i}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, stream := range streams {
		msgs, err := s.ReadStream(ctx, stream, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		last := map[int]int{}
		for i, m := range msgs {
			if m.Position != int64(i) {
				t.Fatalf("gap in %s at %d", stream, i)
			}
			var d struct{ Writer, Seq int }
			if err := m.Decode(&d); err != nil {
				t.Fatal(err)
			}
			if prev, ok := last[d.Writer]; ok && d.Seq != prev+1 {
				t.Fatalf("writer %d: seq %d after %d", d.Writer, d.Seq, prev)
			}
			last[d.Writer] = d.Seq
		}
		total += len(msgs)
	}
	if total != writers*each {
		t.Fatalf("wrote %d messages, want %d", total, writers*each)
	}
}

func TestOneBadWriteDoesNotFailItsNeighbours(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cat := fresh("hot")
	dup := uuid.NewString()
	if _, err := s.Write(ctx, messagestore.StreamName(cat, "x"), messagestore.AnyVersion, messagestore.NewMessage{ID: dup, Type: "T"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, 40)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := messagestore.NewMessage{Type: "T"}
			if i == 17 {
				m.ID = dup // already used: this write must fail, alone
			}
			_, results[i] = s.Write(ctx, messagestore.StreamName(cat, fmt.Sprint(i)), messagestore.AnyVersion, m)
		}()
	}
	wg.Wait()
	for i, err := range results {
		if (i == 17) != (err != nil) {
			t.Errorf("write %d: err %v", i, err)
		}
	}
}

// BenchmarkHotCategoryWrites compares writes to one category from 64 goroutines, each to a fresh
// stream, with and without combining. The two modes alternate in rounds (each round: 64 writers × 20
// writes in each mode in turn) so that they see the same machine load; the ratios are the figures to
// read. A third mode shows what a second combined transaction in flight (defaultMaxInFlight is one)
// would change. Run: go test ./messagestore -run '^$' -bench HotCategory -benchtime 20x -count 3
func BenchmarkHotCategoryWrites(b *testing.B) {
	const writers, perWriter = 64, 20
	pool := newStore(b).Pool()
	modes := []struct {
		name    string
		store   *messagestore.Store
		elapsed time.Duration
	}{
		{name: "one-transaction-each", store: messagestore.New(pool, messagestore.Options{Logger: quiet, NoCombining: true})},
		{name: "combined", store: messagestore.New(pool, messagestore.Options{Logger: quiet})},
		{name: "combined-2-in-flight", store: messagestore.New(pool, messagestore.Options{Logger: quiet})},
	}
	messagestore.SetMaxInFlight(modes[2].store, 2)
	cat := fresh("bench")
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		for i := range modes {
			m := &modes[i]
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range perWriter {
						if _, err := m.store.Write(ctx, messagestore.StreamName(cat, uuid.NewString()), messagestore.AnyVersion,
							messagestore.NewMessage{Type: "VideoViewed", Data: map[string]string{"videoId": "x"}}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			m.elapsed += time.Since(start)
		}
	}
	writes := float64(b.N * writers * perWriter)
	for _, m := range modes {
		b.ReportMetric(writes/m.elapsed.Seconds(), m.name+"-writes/s")
	}
	b.ReportMetric(modes[0].elapsed.Seconds()/modes[1].elapsed.Seconds(), "combined/one-each")
	b.ReportMetric(modes[2].elapsed.Seconds()/modes[1].elapsed.Seconds(), "combined/2-in-flight")
	b.ReportMetric(0, "ns/op")
}

// TestCombinedWritesReturnTheirOwnPositions mixes, in the same combined transactions, writes to a hot
// stream (written with write_messages), to streams of their own (one write_message per row) and
// writes of several messages: each Write must return the position of its own last message.
func TestCombinedWritesReturnTheirOwnPositions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cat := fresh("hot")
	hot := messagestore.StreamName(cat, uuid.NewString())
	type result struct {
		stream, lastID string
		pos            int64
	}
	const writers, each = 24, 15
	results := make(chan result, writers*each)
	errs := make(chan error, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				stream := hot
				if w%3 == 0 {
					stream = messagestore.StreamName(cat, uuid.NewString())
				}
				msgs := []messagestore.NewMessage{{ID: uuid.NewString(), Type: "T"}}
				if i%4 == 0 {
					msgs = append(msgs, messagestore.NewMessage{ID: uuid.NewString(), Type: "T"})
				}
				pos, err := s.Write(ctx, stream, messagestore.AnyVersion, msgs...)
				if err != nil {
					errs <- err
					continue
				}
				results <- result{stream, msgs[len(msgs)-1].ID, pos}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(results)
	for err := range errs {
		t.Fatal(err)
	}
	positions := map[string]map[string]int64{} // stream → id → position
	n := 0
	for r := range results {
		if positions[r.stream] == nil {
			msgs, err := s.ReadStream(ctx, r.stream, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			positions[r.stream] = map[string]int64{}
			for i, m := range msgs {
				if m.Position != int64(i) {
					t.Fatalf("gap in %s at %d", r.stream, i)
				}
				positions[r.stream][m.ID] = m.Position
			}
		}
		got, ok := positions[r.stream][r.lastID]
		if !ok || got != r.pos {
			t.Fatalf("write to %s returned %d; its last message is at %d (found %v)", r.stream, r.pos, got, ok)
		}
		n++
	}
	if n != writers*each {
		t.Fatalf("%d writes checked", n)
	}
}

// TestCombinerSurvivesCancelledWriters: callers that give up while their writes are queued (or just as
// leadership is handed to them) never stall the category: every write that returned success is in
// its stream, positions stay gapless, and a write after the storm still goes through.
func TestCombinerSurvivesCancelledWriters(t *testing.T) {
	s := newStore(t)
	cat := fresh("cancel")
	stream := messagestore.StreamName(cat, uuid.NewString())
	const writers, each = 48, 25
	var mu sync.Mutex
	landed := map[int64]bool{}
	cancelled := 0
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if (w+i)%3 == 0 {
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration((w*7+i)%5)*100*time.Microsecond)
				}
				pos, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "T"})
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					landed[pos] = true
				case errors.Is(err, context.DeadlineExceeded):
					cancelled++
				default:
					t.Errorf("write: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A write whose caller gave up after a flusher had taken it may still land: wait until every
	// such write has, so that "After" is the last.
	eventually(t, 10*time.Second, "the combiner to settle", func() bool { return messagestore.CombinerIdle(s) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "After"})
	if err != nil {
		t.Fatalf("write after the cancellations: %v", err)
	}
	msgs, err := s.ReadStream(ctx, stream, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(msgs)) != last+1 {
		t.Fatalf("%d messages, last position %d", len(msgs), last)
	}
	for i, m := range msgs {
		if m.Position != int64(i) {
			t.Fatalf("gap at %d", i)
		}
	}
	for pos := range landed {
		if pos > last {
			t.Fatalf("a write reported position %d beyond the stream's end %d", pos, last)
		}
	}
	if cancelled == 0 {
		t.Fatal("no write was cancelled: the test did not test cancellation")
	}
	t.Logf("%d writes landed, %d cancelled, %d messages", len(landed), cancelled, len(msgs))
	if len(landed) == 0 || len(landed) > len(msgs)-1 {
		t.Fatalf("%d successful writes, %d messages before the last", len(landed), len(msgs)-1)
	}
}

// A write whose caller gives up while it is still queued is never written: the caller was told it
// failed, and no flusher takes it afterwards. (Once a flusher has taken it, see the next test.)
func TestWriteCancelledWhileQueuedIsNotWritten(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	messagestore.SetMaxInFlight(s, 1)
	cat := fresh("dropped")
	stream := messagestore.StreamName(cat, uuid.NewString())
	// Hold the category's lock so that the flusher's first batch waits at the server.
	tx := holdCategoryLock(t, s, cat)
	first := make(chan error, 1)
	go func() {
		_, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "First"})
		first <- err
	}()
	eventually(t, 10*time.Second, "the first batch to wait for the lock", advisoryLockWaited(s))
	// The only flusher is busy: this write is queued when its caller gives up.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := s.Write(short, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "Dropped"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued write: %v, want the caller's deadline", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	eventually(t, 10*time.Second, "the combiner to settle", func() bool { return messagestore.CombinerIdle(s) })
	pos, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "After"})
	if err != nil || pos != 1 {
		t.Fatalf("write after: position %d, %v; want 1 (the dropped write took no position)", pos, err)
	}
	msgs, err := s.ReadStream(ctx, stream, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range msgs {
		types = append(types, m.Type)
	}
	if strings.Join(types, ",") != "First,After" {
		t.Fatalf("stream holds %v, want [First After]", types)
	}
}

// A batch already at the server whose callers have all given up is cancelled there: its writes do not
// land later (after the database answers again), when their callers were told they failed and may
// have written them again. Here the batch waits for the category lock another session holds, as it
// would on a stalled database.
func TestBatchWhoseCallersAllGaveUpIsNotWritten(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cat := fresh("abandoned")
	stream := messagestore.StreamName(cat, uuid.NewString())
	tx := holdCategoryLock(t, s, cat)
	short, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		_, err := s.Write(short, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "Abandoned"})
		gaveUp <- err
	}()
	eventually(t, 10*time.Second, "the batch to wait for the lock", advisoryLockWaited(s))
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned write: %v, want the caller's cancellation", err)
	}
	eventually(t, 10*time.Second, "the combiner to settle", func() bool { return messagestore.CombinerIdle(s) })
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	pos, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "After"})
	if err != nil || pos != 0 {
		t.Fatalf("write after: position %d, %v; want 0 (the abandoned write was not written)", pos, err)
	}
}

// A caller that gives up on a write already in a combined batch is told it failed; the write must not
// land later because another caller of the same batch is still waiting (a request with a later
// deadline, a component without one). Otherwise a write stalled on the category lock commits after
// its caller was told it failed (a 503 that invites a retry: the retry writes it twice), exactly as
// before batches were cancelled, as soon as two callers with different deadlines share a batch.
func TestWriteWhoseCallerGaveUpInAMixedBatchIsNotWritten(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	messagestore.SetMaxInFlight(s, 1) // one batch at a time: the next one forms while the first waits
	cat := fresh("mixed")
	first := messagestore.StreamName(cat, uuid.NewString())
	gaveUp := messagestore.StreamName(cat, uuid.NewString())
	stays := messagestore.StreamName(cat, uuid.NewString())
	tx := holdCategoryLock(t, s, cat)
	waitingStatements := func(like string) int {
		var n int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE $1`, like).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	write := func(ctx context.Context, stream string) <-chan error {
		out := make(chan error, 1)
		go func() {
			_, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "Written"})
			out <- err
		}()
		return out
	}

	// The first write waits for the lock alone; the two others queue behind it.
	firstCtx, cancelFirst := context.WithCancel(ctx)
	firstDone := write(firstCtx, first)
	eventually(t, 10*time.Second, "the first write to wait for the lock", func() bool {
		return waitingStatements("%write_message(%") > 0
	})
	shortCtx, giveUp := context.WithCancel(ctx)
	shortDone := write(shortCtx, gaveUp)
	staysDone := write(ctx, stays)
	time.Sleep(50 * time.Millisecond) // both queued
	// The first caller gives up: its write is cancelled, and the two others go as one batch, which
	// waits for the lock in turn.
	cancelFirst()
	<-firstDone
	eventually(t, 10*time.Second, "the combined batch to wait for the lock", func() bool {
		return waitingStatements("%write_messages_to_streams%") > 0
	})
	giveUp()
	if err := <-shortDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the write whose caller gave up: %v, want the caller's cancellation", err)
	}
	// The caller is told at once; the server hears of it a moment later (as with any cancelled
	// statement, a lock granted in between commits it).
	eventually(t, 10*time.Second, "the combined batch to be cancelled", func() bool {
		return waitingStatements("%write_messages_to_streams%") == 0
	})
	if err := tx.Rollback(ctx); err != nil { // the database answers again
		t.Fatal(err)
	}
	if err := <-staysDone; err != nil {
		t.Fatalf("the write whose caller waited: %v", err)
	}
	if msgs, err := s.ReadStream(ctx, stays, 0, -1); err != nil || len(msgs) != 1 {
		t.Fatalf("the write whose caller waited: %d messages, %v", len(msgs), err)
	}
	if msgs, err := s.ReadStream(ctx, gaveUp, 0, -1); err != nil || len(msgs) != 0 {
		t.Fatalf("the write whose caller was told it failed holds %d messages (%v), want none", len(msgs), err)
	}
}

// holdCategoryLock takes cat's category lock (write_message's key) in a transaction of its own, as a
// writer stalled at the server would hold it, until the test rolls the transaction back (or ends).
func holdCategoryLock(t *testing.T, s *messagestore.Store, cat string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(message_store.hash_64($1))`, cat); err != nil {
		t.Fatal(err)
	}
	return tx
}

// advisoryLockWaited reports whether some session of the test database waits for an advisory lock.
func advisoryLockWaited(s *messagestore.Store) func() bool {
	return func() bool {
		var waiting int
		err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
		return err == nil && waiting > 0
	}
}
