package testdb

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// Write appends one event as its real writer would and returns it as stored (with positions and
// time, so that FollowedFrom and handlers see what a subscription would hand them).
func Write(t testing.TB, s *messagestore.Store, stream string, data any, md messagestore.Metadata) messagestore.Message {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewEvent(data, md)); err != nil {
		t.Fatal(err)
	}
	m, err := s.LastMessage(ctx, stream, "")
	if err != nil || m == nil {
		t.Fatalf("read back %s: %v", stream, err)
	}
	return *m
}

// ReadStream returns every message of a stream (up to 1000).
func ReadStream(t testing.TB, s *messagestore.Store, stream string) []messagestore.Message {
	t.Helper()
	msgs, err := s.ReadStream(context.Background(), stream, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Types returns the messages' types, in order.
func Types(msgs []messagestore.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Type
	}
	return out
}

// Eventually polls cond every 10ms until it holds, and fails the test if it does not within the time.
func Eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// StartAtHead gives cfg a fresh subscriber id whose position stream starts at the store's current
// head, so that its subscription does not replay the history of a shared database.
func StartAtHead(t testing.TB, s *messagestore.Store, cfg *messagestore.SubscriptionConfig) {
	t.Helper()
	ctx := context.Background()
	cfg.SubscriberID = "test:" + cfg.SubscriberID + ":" + uuid.NewString()
	head, err := s.CategoryHead(ctx, messagestore.AllCategories)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, messagestore.PositionStreamName(cfg.SubscriberID), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "Read", Data: messagestore.Read{Position: head}}); err != nil {
		t.Fatal(err)
	}
}

// RunAtHead runs a copy of cfg under a fresh subscriber id that starts at the store's current head
// (StartAtHead) and hands its handlers only the messages mine accepts, so that it neither replays the
// history of a shared database nor touches other tests' messages. The subscription stops when t ends.
func RunAtHead(t *testing.T, s *messagestore.Store, cfg messagestore.SubscriptionConfig, mine func(messagestore.Message) bool) *messagestore.Subscription {
	t.Helper()
	StartAtHead(t, s, &cfg)
	handlers := map[string]messagestore.Handler{}
	for typ, h := range cfg.Handlers {
		handlers[typ] = func(ctx context.Context, m messagestore.Message) error {
			if !mine(m) {
				return nil
			}
			return h(ctx, m)
		}
	}
	cfg.Handlers = handlers
	cfg.Logger = Quiet
	cfg.MinPollInterval, cfg.MaxPollInterval, cfg.RetryBackoff = 10*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond
	return RunSubscription(t, s, cfg)
}

// RunSubscription subscribes with cfg and runs the subscription until t ends.
func RunSubscription(t testing.TB, s *messagestore.Store, cfg messagestore.SubscriptionConfig) *messagestore.Subscription {
	t.Helper()
	sub, err := s.Subscribe(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); sub.Run(runCtx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return sub
}
