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

// A message that keeps failing with a transient error is retried for as long as it takes and never
// parks. Only the process that runs the subscription knew of it; after AnnounceRetryingAfter the
// status stream says so (Retrying), once, for the admin pages of every process, and Resumed follows
// when the message goes through.
func TestRetryingIsAnnouncedOnceThenResumed(t *testing.T) {
	s := newStore(t)
	cat := fresh("sub")
	gps := writeN(t, s, cat, 2, messagestore.Metadata{})
	var broken atomic.Bool
	broken.Store(true)
	var failures atomic.Int64
	rec := &recorder{}
	id := "test:" + uuid.NewString()
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": func(ctx context.Context, m messagestore.Message) error {
			if m.GlobalPosition == gps[1] && broken.Load() {
				failures.Add(1)
				return messagestore.Transient(errors.New("the media directory is full"))
			}
			return rec.handle(ctx, m)
		}},
		MaxAttempts: 2, RetryBackoff: time.Millisecond, AnnounceRetryingAfter: 50 * time.Millisecond}, nil)
	sup := supervise(t, s, sub)

	eventually(t, 10*time.Second, "Retrying announced", func() bool { return len(statusMessages(t, s, id)) > 0 })
	// Keep failing for a while longer: the announcement is not repeated.
	start := failures.Load()
	eventually(t, 10*time.Second, "more failures", func() bool { return failures.Load() > start+3 })
	status := statusMessages(t, s, id)
	var r messagestore.Retrying
	if len(status) != 1 || status[0].Type != "Retrying" || status[0].Decode(&r) != nil {
		t.Fatalf("status stream while retrying: %v, want one Retrying", testdbTypes(status))
	}
	if r.GlobalPosition != gps[1] || r.Type != "Deposited" || r.Error != "the media directory is full" ||
		!r.Transient || r.Attempts < 2 || r.Since.IsZero() || time.Since(r.Since) > time.Minute {
		t.Fatalf("Retrying = %+v", r)
	}
	if st := sub.Status(); st.State != messagestore.StateRetrying || len(sup.Parked()) != 0 {
		t.Fatalf("a transient failure parked or stopped retrying: %+v", st)
	}

	broken.Store(false)
	eventually(t, 10*time.Second, "handled", func() bool { return rec.count() == 2 })
	eventually(t, 10*time.Second, "Resumed announced", func() bool {
		st := statusMessages(t, s, id)
		return len(st) == 2 && st[1].Type == "Resumed"
	})
}

// A message that fails for less than AnnounceRetryingAfter is not announced at all, and one that
// parks first is announced as Parked only.
func TestShortRetriesAndParksAreNotAnnouncedAsRetrying(t *testing.T) {
	s := newStore(t)
	cat := fresh("sub")
	gps := writeN(t, s, cat, 3, messagestore.Metadata{})
	var fails atomic.Int64
	rec := &recorder{}
	id := "test:" + uuid.NewString()
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": func(ctx context.Context, m messagestore.Message) error {
			switch {
			case m.GlobalPosition == gps[0] && fails.Add(1) <= 3:
				return messagestore.Transient(errors.New("a moment's trouble"))
			case m.GlobalPosition == gps[2]:
				return errors.New("cannot handle this one")
			}
			return rec.handle(ctx, m)
		}},
		MaxAttempts: 3, RetryBackoff: time.Millisecond, AnnounceRetryingAfter: time.Hour}, nil)
	supervise(t, s, sub)

	eventually(t, 10*time.Second, "parked", func() bool { return sub.Status().State == messagestore.StateParked })
	eventually(t, 10*time.Second, "the park announced", func() bool { return len(statusMessages(t, s, id)) > 0 })
	if status := statusMessages(t, s, id); len(status) != 1 || status[0].Type != "Parked" || rec.count() != 2 {
		t.Fatalf("status stream %v after %d handled, want Parked only", testdbTypes(status), rec.count())
	}
}
