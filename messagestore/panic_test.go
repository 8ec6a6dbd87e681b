package messagestore_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// A handler that panics on a message (a bug that only some message of another writer's shape
// reaches) must not take the process down with it — and every other subscription and the web
// server, again at each restart, on the same message. The subscription parks on that message with
// the panic as its error, visibly and retriably, as on any other failure.
func TestAPanickingHandlerParksItsSubscriptionOnly(t *testing.T) {
	s := newStore(t)
	cat := fresh("panic")
	gps := writeN(t, s, cat, 3, messagestore.Metadata{})
	var broken atomic.Bool
	broken.Store(true)
	rec := &recorder{}
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": func(ctx context.Context, m messagestore.Message) error {
			if m.GlobalPosition == gps[1] && broken.Load() {
				var none []int
				_ = none[len(m.StreamName)] // out of range: the runtime panics, as a handler's bug would
			}
			return rec.handle(ctx, m)
		}},
		MaxAttempts: 2, RetryBackoff: time.Millisecond}, nil)
	batchSub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		HandleBatch: func(context.Context, []messagestore.Message) error {
			if broken.Load() {
				panic("batch handler bug")
			}
			return nil
		},
		MaxAttempts: 2, RetryBackoff: time.Millisecond}, nil)
	other := &recorder{}
	otherSub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": other.handle}}, nil)
	supervise(t, s, sub, batchSub, otherSub)

	for _, p := range []*messagestore.Subscription{sub, batchSub} {
		eventually(t, 10*time.Second, "parked", func() bool { return p.Status().State == messagestore.StateParked })
		if st := p.Status(); !strings.Contains(st.LastError, "panic") || st.FailingMessage == nil {
			t.Fatalf("parked status %+v", st)
		}
	}
	if st := sub.Status(); st.FailingMessage.GlobalPosition != gps[1] || !strings.Contains(st.LastError, "index out of range") {
		t.Fatalf("parked status %+v", st)
	}
	eventually(t, 10*time.Second, "the other subscription to go on", func() bool { return other.count() == 3 })

	broken.Store(false)
	sub.Retry()
	batchSub.Retry()
	eventually(t, 10*time.Second, "resumed", func() bool {
		return rec.count() == 3 && batchSub.Status().State == messagestore.StateRunning
	})
}
