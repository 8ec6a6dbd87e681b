package messagestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

// The admin pages show a subscription parked while its status stream ends with Parked. When that is
// no longer true — a Parked written by another Message DB client, or a Resumed whose write failed
// after the subscription got past its message, with no message since to try again — the page's
// retry action is the operator's way out: a retry requested for a subscription that runs and is not
// parked announces that it runs (Resumed), instead of doing nothing while the page keeps showing a park.
func TestARetryOfARunningSubscriptionClearsAParkItNoLongerHas(t *testing.T) {
	runner, other := newStore(t), newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go runner.Run(ctx)
	cat := fresh("stale")
	writeN(t, runner, cat, 2, messagestore.Metadata{})
	rec := &recorder{}
	id := "test:" + uuid.NewString()
	sub, _ := runner.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": rec.handle}}, nil)
	sup := messagestore.NewSupervisor(runner, nil, sub)
	done := make(chan error)
	go func() { done <- sup.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 10*time.Second, "running and listening", func() bool { return rec.count() == 2 && runner.Listening() })

	if _, err := other.Write(context.Background(), messagestore.StatusStreamName(id), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "Parked", Data: messagestore.Parked{GlobalPosition: 1, Error: "not from here"}}); err != nil {
		t.Fatal(err)
	}
	if err := other.RequestRetry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the stale park cleared", func() bool {
		status := statusMessages(t, other, id)
		return len(status) == 2 && status[1].Type == "Resumed"
	})
	// Asked again, with nothing to clear, it writes nothing more.
	if err := other.RequestRetry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if status := statusMessages(t, other, id); len(status) != 2 {
		t.Fatalf("status stream %v", testdbTypes(status))
	}
}
