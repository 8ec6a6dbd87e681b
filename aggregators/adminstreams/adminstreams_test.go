package adminstreams_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

type counts struct {
	streams map[string]int64
	cats    map[string]int64
	index   int64
}

func snapshot(t *testing.T, cats []string) counts {
	t.Helper()
	ctx := context.Background()
	c := counts{streams: map[string]int64{}, cats: map[string]int64{}}
	for _, cat := range cats {
		rows, err := testdb.Pool().Query(ctx, `SELECT stream_name, message_count FROM admin_streams WHERE category = $1`, cat)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			var n int64
			if err := rows.Scan(&s, &n); err != nil {
				t.Fatal(err)
			}
			c.streams[s] = n
		}
		rows.Close()
		var n int64
		_ = testdb.Pool().QueryRow(ctx, `SELECT message_count FROM admin_categories WHERE category = $1`, cat).Scan(&n)
		c.cats[cat] = n
		var idx int64
		if err := testdb.Pool().QueryRow(ctx, `SELECT count(*) FROM admin_message_index WHERE category = $1`, cat).Scan(&idx); err != nil {
			t.Fatal(err)
		}
		c.index += idx
	}
	return c
}

// Concurrent writers in several categories; the aggregator runs as a live store-wide subscription
// while they write. Every message must be counted exactly once, per stream and per category.
func TestCountsEveryMessageOnceUnderConcurrentWriters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store := messagestore.New(testdb.Pool(), messagestore.Options{Logger: testdb.Quiet})
	go func() { _ = store.Run(ctx) }()
	agg := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	cfg := agg.Subscriptions()[0]
	cfg.SubscriberID = "test:admin-streams-" + uuid.NewString()
	cfg.BatchSize = 7
	cfg.MinPollInterval = 5 * time.Millisecond
	sub, err := store.Subscribe(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	subCtx, stopSub := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = sub.Run(subCtx); close(done) }()

	var cats []string
	for i := range 4 {
		cats = append(cats, fmt.Sprintf("adminStreamsTest%d%s", i, uuid.NewString()[:8]))
	}
	const writers, perWriter = 8, 25
	want := map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				cat := cats[(w+i)%len(cats)]
				stream := messagestore.StreamName(cat, fmt.Sprintf("s%d", i%3))
				msgs := []messagestore.NewMessage{{Type: "Thing", Data: map[string]int{"i": i}}}
				if i%5 == 0 {
					msgs = append(msgs, messagestore.NewMessage{Type: "Other"})
				}
				if _, err := store.Write(ctx, stream, messagestore.AnyVersion, msgs...); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[cat] += int64(len(msgs))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, n := range want {
		total += n
	}
	deadline := time.Now().Add(30 * time.Second)
	var got counts
	for time.Now().Before(deadline) {
		got = snapshot(t, cats)
		if got.index == total {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopSub()
	<-done
	// snapshot reads one category after another, so the one that saw every message indexed may have
	// read another category's streams just before the last batch committed: look again, now that
	// nothing moves.
	got = snapshot(t, cats)
	for _, cat := range cats {
		if got.cats[cat] != want[cat] {
			t.Errorf("category %s: counted %d, want %d", cat, got.cats[cat], want[cat])
		}
		var sum int64
		for s, n := range got.streams {
			if messagestore.Category(s) == cat {
				sum += n
			}
		}
		if sum != want[cat] {
			t.Errorf("category %s: streams sum %d, want %d", cat, sum, want[cat])
		}
	}
	if got.index != total {
		t.Errorf("indexed %d messages, want %d", got.index, total)
	}

	// Applying everything again, in reverse order and in odd batches, changes nothing.
	all, err := store.ReadAll(ctx, 0, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var mine []messagestore.Message
	for i := len(all) - 1; i >= 0; i-- {
		for _, c := range cats {
			if messagestore.Category(all[i].StreamName) == c {
				mine = append(mine, all[i])
			}
		}
	}
	for i := 0; i < len(mine); i += 13 {
		if err := agg.HandleMessages(ctx, mine[i:min(i+13, len(mine))]); err != nil {
			t.Fatal(err)
		}
	}
	again := snapshot(t, cats)
	if fmt.Sprint(again) != fmt.Sprint(got) {
		t.Errorf("applying twice changed the view:\n%v\n%v", got, again)
	}
}

// Out-of-order delivery within a stream (a later position first) still counts each message once and
// keeps the newest message as the stream's last.
func TestOutOfOrderWithinStream(t *testing.T) {
	ctx := context.Background()
	agg := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	cat := "adminOrder" + uuid.NewString()[:8]
	stream := cat + "-1"
	mk := func(pos, gpos int64) messagestore.Message {
		return messagestore.Message{ID: uuid.NewString(), StreamName: stream, Type: fmt.Sprintf("T%d", pos),
			Position: pos, GlobalPosition: gpos, Time: time.Now().UTC()}
	}
	m0, m1, m2 := mk(0, 900000001), mk(1, 900000002), mk(2, 900000003)
	for _, batch := range [][]messagestore.Message{{m1}, {m0}, {m2, m1}, {m0, m1, m2}} {
		if err := agg.HandleMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var n, catN int64
	var typ string
	if err := testdb.Pool().QueryRow(ctx, `SELECT message_count, last_message_type FROM admin_streams WHERE stream_name = $1`, stream).Scan(&n, &typ); err != nil {
		t.Fatal(err)
	}
	if err := testdb.Pool().QueryRow(ctx, `SELECT message_count FROM admin_categories WHERE category = $1`, cat).Scan(&catN); err != nil {
		t.Fatal(err)
	}
	if n != 3 || catN != 3 || typ != "T2" {
		t.Errorf("stream count %d, category count %d, last type %s; want 3, 3, T2", n, catN, typ)
	}
	_, _ = testdb.Pool().Exec(ctx, `DELETE FROM admin_message_index WHERE global_position > 900000000`)
}

// A batch of many streams, applied twice and then overlapping: the set-based index insert and the
// pipelined stream statements count every message once.
func TestManyStreamBatchTwiceAndOverlapping(t *testing.T) {
	ctx := context.Background()
	agg := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	cat := "adminMany" + uuid.NewString()[:8]
	var msgs []messagestore.Message
	gp := int64(910000000)
	for pos := range int64(3) {
		for s := range 50 {
			gp++
			msgs = append(msgs, messagestore.Message{ID: uuid.NewString(), StreamName: fmt.Sprintf("%s-%d", cat, s),
				Type: "T", Position: pos, GlobalPosition: gp, Time: time.Now().UTC(),
				Metadata: messagestore.Metadata{TraceID: "trace"}})
		}
	}
	defer testdb.Pool().Exec(ctx, `DELETE FROM admin_message_index WHERE category = $1`, cat) //nolint:errcheck
	for _, batch := range [][]messagestore.Message{msgs[:100], msgs[:100], msgs[50:], msgs} {
		if err := agg.HandleMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	c := snapshot(t, []string{cat})
	if c.cats[cat] != 150 || c.index != 150 || len(c.streams) != 50 {
		t.Fatalf("category %d, index %d, streams %d; want 150, 150, 50", c.cats[cat], c.index, len(c.streams))
	}
	for s, n := range c.streams {
		if n != 3 {
			t.Fatalf("stream %s counts %d, want 3", s, n)
		}
	}
}

// Overlapping batches applied at the same time, as two runners may for a moment during a lease
// takeover: each locks its streams' rows (in one order) before it reads their counts, so each sees the
// counts the other left, every stream and every category is counted exactly once, and neither
// transaction deadlocks the other.
func TestOverlappingBatchesAtOnceCountEveryMessageOnce(t *testing.T) {
	ctx := context.Background()
	agg := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	cats := []string{"adminOverlapA" + uuid.NewString()[:8], "adminOverlapB" + uuid.NewString()[:8]}
	var msgs []messagestore.Message
	gp := int64(920000000)
	for pos := range int64(4) {
		for s := range 30 {
			gp++
			cat := cats[s%2]
			msgs = append(msgs, messagestore.Message{ID: uuid.NewString(), StreamName: fmt.Sprintf("%s-%d", cat, s),
				Type: "T", Position: pos, GlobalPosition: gp, Time: time.Now().UTC()})
		}
	}
	for _, cat := range cats {
		defer testdb.Pool().Exec(ctx, `DELETE FROM admin_message_index WHERE category = $1`, cat) //nolint:errcheck
	}
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for _, batch := range [][]messagestore.Message{msgs[:70], msgs[30:], msgs[round*10 : 80+round*8], msgs} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := agg.HandleMessages(ctx, batch); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	c := snapshot(t, cats)
	if c.cats[cats[0]] != 60 || c.cats[cats[1]] != 60 || c.index != 120 || len(c.streams) != 30 {
		t.Fatalf("categories %d and %d, index %d, streams %d; want 60, 60, 120, 30",
			c.cats[cats[0]], c.cats[cats[1]], c.index, len(c.streams))
	}
	for s, n := range c.streams {
		if n != 4 {
			t.Fatalf("stream %s counts %d, want 4", s, n)
		}
	}
}

// randomText is n bytes of text that does not compress (PostgreSQL compresses long index entries, so
// repeated letters would fit where another client's real text does not) and holds no '-'.
func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)[:n]
}

// Any Message DB client may write a message whose type, trace id or acting user is kilobytes long, or
// whose stream name has no id and a category as long as the store allows. The message store takes
// them (it indexes none of these, and stream names up to about 2.7 KB); the admin tables index all of
// them. Such a message must be counted like any other, not stop the store-wide aggregator: its
// failure could only park it, and every message of the store after it would go unindexed.
func TestMessagesWithTextTooLongToIndexAreCounted(t *testing.T) {
	ctx := context.Background()
	store := messagestore.New(testdb.Pool(), messagestore.Options{Logger: testdb.Quiet})
	agg := adminstreams.New(adminstreams.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	cat := "adminLong" + uuid.NewString()[:8]
	long := messagestore.NewMessage{Type: "T" + randomText(t, 3000), Data: map[string]string{},
		Metadata: messagestore.Metadata{TraceID: randomText(t, 3000), UserID: randomText(t, 3000)}}
	streams := []string{
		cat + "-" + uuid.NewString(),
		// No id: the whole name is the category, and admin_streams indexes (category, stream_name).
		cat + randomText(t, 1500),
	}
	var msgs []messagestore.Message
	for i, stream := range streams {
		m := long
		if i > 0 {
			m = messagestore.NewMessage{Type: "T", Data: map[string]string{}}
		}
		if _, err := store.Write(ctx, stream, messagestore.AnyVersion, m); err != nil {
			t.Fatalf("the store refused what another client could write: %v", err)
		}
		last, err := store.LastMessage(ctx, stream, "")
		if err != nil || last == nil {
			t.Fatal(err)
		}
		msgs = append(msgs, *last)
	}
	for _, batch := range [][]messagestore.Message{msgs[:1], msgs[1:], msgs} { // the last one applied again
		if err := agg.HandleMessages(ctx, batch); err != nil {
			t.Fatalf("applying %d message(s): %v", len(batch), err)
		}
	}
	for _, m := range msgs {
		var n int64
		if err := testdb.Pool().QueryRow(ctx, `SELECT message_count FROM admin_streams WHERE stream_name = $1`,
			m.StreamName).Scan(&n); err != nil || n != 1 {
			t.Errorf("stream of %d bytes: count %d (%v), want 1", len(m.StreamName), n, err)
		}
		var typ string
		var trace, user *string
		if err := testdb.Pool().QueryRow(ctx, `SELECT type, trace_id, user_id FROM admin_message_index
			WHERE global_position = $1`, m.GlobalPosition).Scan(&typ, &trace, &user); err != nil {
			t.Fatalf("message at %d not indexed: %v", m.GlobalPosition, err)
		}
		if typ == "" || !strings.HasPrefix(m.Type, typ) {
			t.Errorf("indexed type %.20q…, want a prefix of %.20q…", typ, m.Type)
		}
		if trace != nil || user != nil {
			t.Errorf("a trace id or user id of kilobytes was indexed: trace %v, user %v", trace != nil, user != nil)
		}
	}
	var catN int64
	if err := testdb.Pool().QueryRow(ctx, `SELECT message_count FROM admin_categories WHERE category = $1`, cat).Scan(&catN); err != nil || catN != 1 {
		t.Errorf("category %s: count %d (%v), want 1", cat, catN, err)
	}
}
