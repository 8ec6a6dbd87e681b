package messagestore_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// Another Message DB client may write large messages (a megabyte each, say) into a category a
// subscription reads. A read of a whole batch of them (up to 2,000 while catching up) held gigabytes
// at once, in every subscription of that category, and a process with a memory limit was killed —
// after its restart, on the same read again. A category read keeps to a budget of bytes instead: it
// returns fewer messages when they are large (at least one), a subscription reads on from there,
// and a stream's read for a fetch still gets every message.
func TestReadsOfLargeMessagesKeepToABudget(t *testing.T) {
	s := newStore(t)
	// Every other test's store-wide subscription reads these messages too: they are made small, and so
	// is the budget (ReadBudget: 8 MiB).
	const n, size, budget = 24, 16 << 10, 64 << 10
	messagestore.SetReadBudget(s, budget)
	ctx := context.Background()
	cat := fresh("big")
	stream := messagestore.StreamName(cat, uuid.NewString())
	data := json.RawMessage(`{"pad": "` + strings.Repeat("x", size) + `"}`)
	for range n {
		if _, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewMessage{Type: "Big", Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := s.ReadCategory(ctx, cat, 0, 1000, messagestore.CategoryRead{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 || len(msgs) > budget/size+1 {
		t.Fatalf("a category read of %d messages of %d bytes, budget %d, returned %d", n, size, budget, len(msgs))
	}

	var mu sync.Mutex
	seen := map[string]int{}
	sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		HandleBatch: func(_ context.Context, msgs []messagestore.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				seen[m.ID]++
			}
			return nil
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	defer stop()
	eventually(t, 20*time.Second, "every large message handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	mu.Lock()
	for id, c := range seen {
		if c != 1 {
			t.Errorf("message %s handled %d times", id, c)
		}
	}
	mu.Unlock()

	count, version, err := messagestore.Fetch(ctx, s, stream, messagestore.Projection[int]{
		Init:  func() int { return 0 },
		Apply: func(c int, _ messagestore.Message) (int, error) { return c + 1, nil },
	})
	if err != nil || count != n || version != n-1 {
		t.Fatalf("fetch of the stream: %d messages, version %d, %v", count, version, err)
	}
}
