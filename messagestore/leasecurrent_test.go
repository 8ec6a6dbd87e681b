package messagestore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// A process frozen for longer than the lease timeout has lost its leases on the server (its lease
// session ended, a peer may hold them), but goes on where it stopped when it thaws, before its lease
// connection is found closed. A subscription must not start on a message then: it checks that its
// lease session was answered recently (Leases.Current) before each one, and otherwise stops until the
// lease is confirmed or taken again.
func TestASubscriptionDoesNotHandleWhileItsLeaseIsUnconfirmed(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leases := messagestore.NewLeases(s.Pool(), quiet, time.Hour) // steps only when kicked
	go leases.Run(ctx)
	cat := fresh("lease")
	var handled, unconfirmed atomic.Int32
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		MinPollInterval: 10 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond,
		Handlers: map[string]messagestore.Handler{"Deposited": func(context.Context, messagestore.Message) error {
			if !leases.Current() {
				unconfirmed.Add(1)
			}
			handled.Add(1)
			return nil
		}}}, leases)
	done := make(chan error)
	go func() { done <- sub.Run(ctx) }()
	defer func() { cancel(); <-done }()

	writeN(t, s, cat, 1, messagestore.Metadata{})
	eventually(t, 10*time.Second, "the first message", func() bool { return handled.Load() == 1 })
	messagestore.AgeLeases(leases, 6*time.Hour) // past the timeout of an hour's interval
	if leases.Current() {
		t.Fatal("an aged lease session is still current")
	}
	writeN(t, s, cat, 1, messagestore.Metadata{})
	eventually(t, 10*time.Second, "the second message, once the lease is confirmed", func() bool { return handled.Load() == 2 })
	if n := unconfirmed.Load(); n > 0 {
		t.Fatalf("%d message(s) handled while the lease was not confirmed", n)
	}
}
