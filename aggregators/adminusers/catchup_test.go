package adminusers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminusers"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// The identity subscription as the program runs it, catching up with 1,598 events: its reads while
// behind are bounded by its own CatchUpBatchSize (not the store's 2,000: a catching-up program holds
// every subscription's read at once), and the rows it leaves are those of applying the same events
// one by one.
func TestCatchUpInBoundedReadsAsOneByOne(t *testing.T) {
	ctx := context.Background()
	store := testdb.NewStore(t)
	agg := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	cfg := agg.Subscriptions()[0]
	if cfg.Category != identitymsg.Category || cfg.CatchUpBatchSize <= 0 || cfg.CatchUpBatchSize > 1000 {
		t.Fatalf("identity subscription: category %s, catch-up reads of %d", cfg.Category, cfg.CatchUpBatchSize)
	}
	testdb.StartAtHead(t, store, &cfg)

	// Four users of 399 or 400 events, each user's in one write: registrations every 100 events,
	// emails sent and failed in turn, the last one a failure for two users and a success for two.
	users := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
	mine := map[string]bool{}
	for i, u := range users {
		var evs []messagestore.NewMessage
		for k := range 399 + i%2 {
			var data any
			switch {
			case k%100 == 0:
				data = identitymsg.Registered{UserID: u, Email: fmt.Sprintf("u%d.%d@example.com", i, k), PasswordHash: "$2a$10$x"}
			case k%2 == 1:
				data = identitymsg.RegistrationEmailSent{UserID: u, EmailID: uuid.NewString()}
			default:
				data = identitymsg.RegistrationEmailFailed{UserID: u, EmailID: uuid.NewString(), Reason: fmt.Sprintf("r%d", k)}
			}
			evs = append(evs, messagestore.NewEvent(data, messagestore.Metadata{}))
		}
		stream := identitymsg.StreamName(u)
		if _, err := store.Write(ctx, stream, messagestore.AnyVersion, evs...); err != nil {
			t.Fatal(err)
		}
		mine[stream] = true
	}
	head, err := store.CategoryHead(ctx, identitymsg.Category)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	largest := 0
	handle := cfg.HandleBatch
	cfg.HandleBatch = func(ctx context.Context, msgs []messagestore.Message) error {
		mu.Lock()
		largest = max(largest, len(msgs))
		mu.Unlock()
		var keep []messagestore.Message // other tests' users are theirs
		for _, m := range msgs {
			if mine[m.StreamName] {
				keep = append(keep, m)
			}
		}
		if len(keep) == 0 {
			return nil
		}
		return handle(ctx, keep)
	}
	cfg.Logger = testdb.Quiet
	cfg.MinPollInterval, cfg.MaxPollInterval, cfg.RetryBackoff = 10*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond
	sub := testdb.RunSubscription(t, store, cfg)
	testdb.Eventually(t, 30*time.Second, "the subscription at the head", func() bool { return sub.Status().Position >= head })

	mu.Lock()
	defer mu.Unlock()
	// The first read is the idle size (500); a larger one was read while behind.
	if largest <= 500 || largest > cfg.CatchUpBatchSize {
		t.Errorf("largest batch %d, want a catch-up read of at most %d", largest, cfg.CatchUpBatchSize)
	}
	t.Logf("largest batch %d (catch-up reads of at most %d)", largest, cfg.CatchUpBatchSize)
	for i, u := range users {
		// The reference: the same events, as stored, under another user id, one at a time.
		ref := uuid.NewString()
		for _, m := range testdb.ReadStream(t, store, identitymsg.StreamName(u)) {
			var data map[string]any
			if err := json.Unmarshal(m.Data, &data); err != nil {
				t.Fatal(err)
			}
			data["userId"] = ref
			m.StreamName = identitymsg.StreamName(ref)
			m.Data, _ = json.Marshal(data)
			if err := agg.HandleMessages(ctx, []messagestore.Message{m}); err != nil {
				t.Fatal(err)
			}
		}
		want, got := getFull(t, ref), getFull(t, u)
		if show(got) != show(want) {
			t.Errorf("user %d caught up %s, one by one %s", i, show(got), show(want))
		}
		if wantFailed := i%2 == 0; got.Email != fmt.Sprintf("u%d.300@example.com", i) || (got.Failed != nil) != wantFailed || !got.Sent {
			t.Errorf("user %d: %s", i, show(got))
		}
	}
}
