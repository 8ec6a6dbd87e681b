package messagestore_test

import (
	"context"
	"maps"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

var ctx = context.Background()

// balance is a test entity: a value with a map, to check that cached entities are not aliased.
type balance struct {
	Total   int
	ByActor map[string]int
}

// balanceProjection counts its Apply calls in applied.
func balanceProjection(applied *atomic.Int64, clone bool) messagestore.Projection[balance] {
	p := messagestore.Projection[balance]{
		Init: func() balance { return balance{ByActor: map[string]int{}} },
		Apply: func(b balance, m messagestore.Message) (balance, error) {
			applied.Add(1)
			var d Deposited
			if err := m.Decode(&d); err != nil {
				return b, err
			}
			b.Total += d.Amount
			b.ByActor[d.AccountID] += d.Amount // in place: needs Clone to be cached safely
			return b, nil
		},
	}
	if clone {
		p.Clone = func(b balance) balance { b.ByActor = maps.Clone(b.ByActor); return b }
	}
	return p
}

func deposit(t testing.TB, s *messagestore.Store, stream string, n int) {
	t.Helper()
	msgs := make([]messagestore.NewMessage, n)
	for i := range msgs {
		msgs[i] = messagestore.NewEvent(Deposited{AccountID: "a", Amount: 1}, messagestore.Metadata{})
	}
	for len(msgs) > 0 {
		k := min(len(msgs), 1000)
		if _, err := s.Write(context.Background(), stream, messagestore.AnyVersion, msgs[:k]...); err != nil {
			t.Fatal(err)
		}
		msgs = msgs[k:]
	}
}

func TestFetchCachedReadsOnlyNewMessages(t *testing.T) {
	s := newStore(t)
	stream := messagestore.StreamName(fresh("cache"), uuid.NewString())
	deposit(t, s, stream, 1500) // more than one page
	var applied atomic.Int64
	p := balanceProjection(&applied, true)
	cache := messagestore.NewEntityCache[balance](10)

	b, v, err := messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil || b.Total != 1500 || v != 1499 || applied.Load() != 1500 {
		t.Fatalf("first fetch: %+v %d %v, %d applied", b.Total, v, err, applied.Load())
	}
	// A hit with nothing new applies nothing.
	applied.Store(0)
	b, v, err = messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil || b.Total != 1500 || v != 1499 || applied.Load() != 0 {
		t.Fatalf("cached fetch: %d %d %v, %d applied", b.Total, v, err, applied.Load())
	}
	// New messages: only they are applied, and the result equals a full Fetch.
	deposit(t, s, stream, 3)
	b, v, err = messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil || b.Total != 1503 || v != 1502 || applied.Load() != 3 {
		t.Fatalf("fetch after 3 new: %d %d %v, %d applied", b.Total, v, err, applied.Load())
	}
	full, fv, err := messagestore.Fetch(ctx, s, stream, p)
	if err != nil || full.Total != b.Total || fv != v || !maps.Equal(full.ByActor, b.ByActor) {
		t.Fatalf("full fetch %+v %d differs from cached %+v %d", full, fv, b, v)
	}
	if st := cache.Stats(); st.Hits != 2 || st.Misses != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFetchCachedDoesNotAliasCachedEntities(t *testing.T) {
	s := newStore(t)
	stream := messagestore.StreamName(fresh("cache"), uuid.NewString())
	deposit(t, s, stream, 2)
	var applied atomic.Int64
	p := balanceProjection(&applied, true)
	cache := messagestore.NewEntityCache[balance](10)
	b, _, err := messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil {
		t.Fatal(err)
	}
	b.ByActor["a"] = 1000 // a handler scribbling on its copy
	b.ByActor["x"] = 1
	again, _, err := messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil || again.ByActor["a"] != 2 || len(again.ByActor) != 1 {
		t.Fatalf("cached entity changed through a returned copy: %+v %v", again, err)
	}
	// Applying new messages to the copy handed out must not change the cached entry either.
	deposit(t, s, stream, 1)
	next, _, _ := messagestore.FetchCached(ctx, s, cache, stream, p)
	cached, _, _ := cache.Get(stream)
	next.ByActor["a"] = -1
	if cached.ByActor["a"] != 3 {
		t.Fatalf("cache entry aliased: %+v", cached)
	}
}

func TestEntityCacheIsBoundedLRUAndNeverMovesBack(t *testing.T) {
	c := messagestore.NewEntityCache[int](2)
	c.Put("a-1", 1, 1)
	c.Put("b-1", 2, 1)
	if _, _, ok := c.Get("a-1"); !ok { // a-1 is now the most recently used
		t.Fatal("a-1 missing")
	}
	c.Put("c-1", 3, 1)
	if _, _, ok := c.Get("b-1"); ok {
		t.Fatal("b-1 should have been evicted (least recently used)")
	}
	if c.Len() != 2 || c.Stats().Evictions != 1 {
		t.Fatalf("len %d stats %+v", c.Len(), c.Stats())
	}
	c.Put("a-1", 10, 5)
	c.Put("a-1", 9, 4) // a slower concurrent fetch: older, ignored
	if e, v, _ := c.Get("a-1"); e != 10 || v != 5 {
		t.Fatalf("entry moved back: %d at %d", e, v)
	}
	c.Invalidate("a-1")
	if _, v, ok := c.Get("a-1"); ok || v != -1 {
		t.Fatal("invalidated entry still there")
	}
}

func TestFetchCachedAfterVersionConflict(t *testing.T) {
	s, other := newStore(t), newStore(t)
	stream := messagestore.StreamName(fresh("cache"), uuid.NewString())
	deposit(t, s, stream, 2)
	var applied atomic.Int64
	p := balanceProjection(&applied, true)
	cache := messagestore.NewEntityCache[balance](10)
	_, v, err := messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil {
		t.Fatal(err)
	}
	deposit(t, other, stream, 1) // another process writes in between
	_, err = s.Write(ctx, stream, v, messagestore.NewEvent(Deposited{"a", 1}, messagestore.Metadata{}))
	if !messagestore.IsVersionConflict(err) {
		t.Fatalf("want a version conflict, got %v", err)
	}
	// Without invalidation the retry still sees the other write (reads start after the cached version)…
	b, v2, err := messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil || b.Total != 3 || v2 != 2 {
		t.Fatalf("after conflict: %d at %d, %v", b.Total, v2, err)
	}
	// …and after Invalidate it replays the stream to the same result.
	cache.Invalidate(stream)
	b, v3, err := messagestore.FetchCached(ctx, s, cache, stream, p)
	if err != nil || b.Total != 3 || v3 != 2 {
		t.Fatalf("after invalidate: %d at %d, %v", b.Total, v3, err)
	}
	if _, err := s.Write(ctx, stream, v3, messagestore.NewEvent(Deposited{"a", 1}, messagestore.Metadata{})); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFetchLongStream compares projecting a stream of 10,000 messages from scratch with a cached
// fetch that finds one new message (a command handled on a long-lived entity), side by side.
//
//	go test ./messagestore -run '^$' -bench FetchLongStream -benchtime 3s
func BenchmarkFetchLongStream(b *testing.B) {
	s := newStore(b)
	stream := messagestore.StreamName(fresh("cachebench"), uuid.NewString())
	deposit(b, s, stream, 10000)
	var applied atomic.Int64
	p := balanceProjection(&applied, true)
	b.Run("Fetch", func(b *testing.B) {
		for b.Loop() {
			if e, _, err := messagestore.Fetch(ctx, s, stream, p); err != nil || e.Total < 10000 {
				b.Fatal(e.Total, err)
			}
		}
	})
	b.Run("FetchCached", func(b *testing.B) {
		cache := messagestore.NewEntityCache[balance](100)
		if _, _, err := messagestore.FetchCached(ctx, s, cache, stream, p); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if e, _, err := messagestore.FetchCached(ctx, s, cache, stream, p); err != nil || e.Total < 10000 {
				b.Fatal(e.Total, err)
			}
		}
	})
	b.Run("FetchCached+1new", func(b *testing.B) {
		cache := messagestore.NewEntityCache[balance](100)
		if _, _, err := messagestore.FetchCached(ctx, s, cache, stream, p); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			b.StopTimer()
			deposit(b, s, stream, 1)
			b.StartTimer()
			if _, _, err := messagestore.FetchCached(ctx, s, cache, stream, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
