package homepage

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

var ctx = context.Background()

// recorder is a Notifier that remembers what it was told.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Publish(topic, event, data string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, topic+" "+event+" "+data)
}

func (r *recorder) published() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// newAggregator returns an aggregator writing a pages row of its own, so that tests share the database
// with everything else without touching the real home page.
func newAggregator(t *testing.T) (*Aggregator, *recorder) {
	t.Helper()
	live := &recorder{}
	a := New(Deps{DB: testdb.Pool(), Logger: testdb.Quiet, Live: live})
	a.page = "test-home-" + uuid.NewString()
	t.Cleanup(func() { testdb.Pool().Exec(context.Background(), `DELETE FROM pages WHERE page_name = $1`, a.page) })
	return a, live
}

// viewings returns VideoViewed messages at the given global positions.
func viewings(gps ...int64) []messagestore.Message {
	var out []messagestore.Message
	for _, gp := range gps {
		id := uuid.NewString()
		data, _ := json.Marshal(viewingmsg.VideoViewed{VideoID: id})
		out = append(out, messagestore.Message{ID: uuid.NewString(), StreamName: viewingmsg.StreamName(id), Type: "VideoViewed",
			GlobalPosition: gp, Data: data})
	}
	return out
}

// pageData returns the raw page_data of the aggregator's row ("" when missing).
func pageData(t *testing.T, a *Aggregator) string {
	t.Helper()
	var data string
	err := testdb.Pool().QueryRow(ctx, `SELECT page_data::text FROM pages WHERE page_name = $1`, a.page).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestContract(t *testing.T) {
	if err := Contract.Validate(); err != nil {
		t.Fatal(err)
	}
	subs := New(Deps{DB: testdb.Pool()}).Subscriptions()
	if len(subs) != 1 || subs[0].SubscriberID != "aggregators:home-page" || subs[0].Category != "viewing" ||
		subs[0].HandleBatch == nil || !slices.Equal(subs[0].BatchTypes, []string{"VideoViewed"}) ||
		Contract.Subscribes[0].SubscriberID != subs[0].SubscriberID {
		t.Fatalf("subscriptions %+v", subs)
	}
}

func TestBatchIsCountedOnce(t *testing.T) {
	a, live := newAggregator(t)
	batch := viewings(11, 12, 13)
	for range 2 { // the second time is a redelivery after a crash: nothing changes
		if err := a.HandleViewings(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if got := pageData(t, a); got != `{"videosWatched": 3, "lastViewProcessed": 13}` {
		t.Fatalf("page_data %s", got)
	}
	if got := live.published(); !slices.Equal(got, []string{"home videosWatched 3"}) {
		t.Errorf("published %v", got)
	}
}

func TestOverlappingAndSplitBatchesGiveTheSameView(t *testing.T) {
	// However the subscription cuts and re-reads the category (a crash after the commit and before the
	// position was saved re-reads from an older position), every viewing is counted once.
	all := viewings(21, 22, 23, 24, 25)
	whole, _ := newAggregator(t)
	if err := whole.HandleViewings(ctx, all); err != nil {
		t.Fatal(err)
	}
	pieces, live := newAggregator(t)
	for _, b := range [][]messagestore.Message{all[:2], all[1:4], all[:1], all[3:], all} {
		if err := pieces.HandleViewings(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := pageData(t, whole), pageData(t, pieces); a != b {
		t.Fatalf("one batch: %s, pieces: %s", a, b)
	}
	if got := live.published(); !slices.Equal(got, []string{"home videosWatched 2", "home videosWatched 4", "home videosWatched 5"}) {
		t.Errorf("published %v (only changes are published)", got)
	}
}

func TestOtherKeysOfThePageAreKept(t *testing.T) {
	a, _ := newAggregator(t)
	if _, err := testdb.Pool().Exec(ctx, `INSERT INTO pages (page_name, page_data) VALUES ($1, '{"videosWatched": 7, "lastViewProcessed": 30, "other": true}')`, a.page); err != nil {
		t.Fatal(err)
	}
	if err := a.HandleViewings(ctx, viewings(29, 30, 31)); err != nil {
		t.Fatal(err)
	}
	if got := pageData(t, a); got != `{"other": true, "videosWatched": 8, "lastViewProcessed": 31}` {
		t.Fatalf("page_data %s", got)
	}
}

func TestEmptyDatabase(t *testing.T) {
	// The migration seeds the home row at zero…
	var seeded bool
	if err := testdb.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pages WHERE page_name = 'home')`).Scan(&seeded); err != nil || !seeded {
		t.Fatalf("no seeded home row (%v)", err)
	}
	// …and a missing row reads as zero (checked in a transaction that is rolled back, so the real row
	// of a shared database is left alone).
	tx, err := testdb.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM pages WHERE page_name = 'home'`); err != nil {
		t.Fatal(err)
	}
	p, err := viewdata.HomePage(ctx, tx)
	if err != nil || p != (viewdata.HomePageData{}) {
		t.Fatalf("home page without a row: %+v, %v", p, err)
	}
	// An aggregator whose row is missing creates it.
	a, _ := newAggregator(t)
	if err := a.HandleViewings(ctx, viewings(41)); err != nil {
		t.Fatal(err)
	}
	if got := pageData(t, a); got != `{"videosWatched": 1, "lastViewProcessed": 41}` {
		t.Fatalf("page_data %s", got)
	}
}

func TestHomePageReadsTheView(t *testing.T) {
	p, err := viewdata.HomePage(ctx, testdb.Pool())
	if err != nil || p.VideosWatched < 0 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestSubscriptionCountsViewings(t *testing.T) {
	// The aggregator as main runs it, fed by real VideoViewed events.
	s := testdb.NewStore(t)
	a, live := newAggregator(t)
	cfg := a.Subscriptions()[0]
	testdb.StartAtHead(t, s, &cfg) // a fresh subscriber id, so a shared database's history is not replayed
	videoID := uuid.NewString()
	handle := cfg.HandleBatch
	cfg.HandleBatch = func(ctx context.Context, msgs []messagestore.Message) error {
		var mine []messagestore.Message // other tests' viewings of a shared database are not ours to count
		for _, m := range msgs {
			if m.StreamName == viewingmsg.StreamName(videoID) {
				mine = append(mine, m)
			}
		}
		return handle(ctx, mine)
	}
	cfg.Logger, cfg.MinPollInterval, cfg.MaxPollInterval = testdb.Quiet, 10*time.Millisecond, 50*time.Millisecond
	testdb.RunSubscription(t, s, cfg)

	for _, typ := range []string{"VideoViewed", "SomethingElse", "VideoViewed"} {
		if _, err := s.Write(ctx, viewingmsg.StreamName(videoID), messagestore.AnyVersion,
			messagestore.NewMessage{Type: typ, Data: viewingmsg.VideoViewed{VideoID: videoID}}); err != nil {
			t.Fatal(err)
		}
	}
	var p struct{ VideosWatched int64 }
	deadline := time.Now().Add(10 * time.Second)
	for p.VideosWatched < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if data := pageData(t, a); data != "" {
			_ = json.Unmarshal([]byte(data), &p)
		}
	}
	time.Sleep(50 * time.Millisecond) // room for a miscount to show up
	if err := json.Unmarshal([]byte(pageData(t, a)), &p); err != nil || p.VideosWatched != 2 {
		t.Fatalf("page_data %s (%v)", pageData(t, a), err)
	}
	if got := live.published(); len(got) == 0 || got[len(got)-1] != "home videosWatched 2" {
		t.Errorf("published %v", got)
	}
}
