package messagestore_test

import (
	"context"
	"errors"
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

// A runner frozen past the lease timeout while its handler failed for the last allowed time must not
// park and announce it when it thaws: a peer may have taken the subscription over and be past the
// message, and the admin pages would show a park nobody runs into (a late Parked). It stops instead,
// and parks — announcing it — only once its lease is confirmed and the message fails again.
func TestAFailureWhileTheLeaseIsUnconfirmedDoesNotPark(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leases := messagestore.NewLeases(s.Pool(), quiet, time.Hour) // steps only when kicked
	go leases.Run(ctx)
	cat := fresh("lease")
	id := "test:" + uuid.NewString()
	const maxAttempts = 3
	var calls atomic.Int32
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		MaxAttempts: maxAttempts, RetryBackoff: time.Millisecond,
		MinPollInterval: 10 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond,
		Handlers: map[string]messagestore.Handler{"Deposited": func(context.Context, messagestore.Message) error {
			if calls.Add(1) == maxAttempts {
				messagestore.AgeLeases(leases, 6*time.Hour) // frozen during the last allowed attempt
			}
			return errors.New("cannot handle this one")
		}}}, leases)
	done := make(chan error)
	go func() { done <- sub.Run(ctx) }()
	defer func() { cancel(); <-done }()

	writeN(t, s, cat, 1, messagestore.Metadata{})
	eventually(t, 10*time.Second, "the park announced", func() bool { return len(statusMessages(t, s, id)) > 0 })
	if n := calls.Load(); n != 2*maxAttempts {
		t.Fatalf("parked after %d attempts, want %d: the first park came while the lease was unconfirmed", n, 2*maxAttempts)
	}
	if status := statusMessages(t, s, id); len(status) != 1 || status[0].Type != "Parked" {
		t.Fatalf("status stream %v, want one Parked", testdbTypes(status))
	}
}
