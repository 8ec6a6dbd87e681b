package messagestore

import (
	"context"
	"sort"

	"golang.org/x/sync/errgroup"
)

// Supervisor runs a process's subscriptions, the lease holder and the store's wake-up forwarding, and
// answers for their health.
type Supervisor struct {
	store  *Store
	leases *Leases
	subs   []*Subscription
}

// NewSupervisor returns a supervisor for subs. leases may be nil for a single-process tool.
func NewSupervisor(store *Store, leases *Leases, subs ...*Subscription) *Supervisor {
	s := &Supervisor{store: store, leases: leases, subs: subs}
	if store != nil {
		// A retry requested by any process (Store.RequestRetry) retries the subscription here if
		// this process runs it and it is parked. If this process runs it and it is not parked, a park
		// its status stream still announces is stale, and is cleared (clearStalePark).
		store.onRetryRequest(func(id string) {
			sub := s.Subscription(id)
			if sub == nil {
				return
			}
			switch sub.Status().State {
			case StateParked:
				sub.log.Info("retry requested through the store")
				sub.Retry()
			case StateRunning:
				go sub.clearStalePark() // off the LISTEN connection's goroutine
			}
		})
	}
	return s
}

// Run runs everything until ctx is done. Subscriptions save their positions on the way out, and only
// then are the leases given up: were the lease connection closed first, a peer process could take a
// subscription over and start from a position that is about to be saved, handling those messages twice.
func (s *Supervisor) Run(ctx context.Context) error {
	leasesDone := make(chan error, 1)
	stopLeases := func() {}
	if s.leases != nil {
		// Processes that run the same subscriptions share them out.
		ids := make([]string, len(s.subs))
		for i, sub := range s.subs {
			ids[i] = sub.SubscriberID()
		}
		s.leases.Balance(ids)
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stopLeases = cancel
		go func() { leasesDone <- s.leases.Run(lctx) }()
	} else {
		leasesDone <- nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, sub := range s.subs {
		g.Go(func() error { return sub.Run(gctx) })
	}
	err := g.Wait()
	stopLeases()
	if lerr := <-leasesDone; err == nil {
		err = lerr
	}
	return err
}

// Subscriptions returns every subscription, sorted by subscriber id.
func (s *Supervisor) Subscriptions() []*Subscription {
	out := append([]*Subscription(nil), s.subs...)
	sort.Slice(out, func(i, j int) bool { return out[i].SubscriberID() < out[j].SubscriberID() })
	return out
}

// Subscription returns the subscription with the given id, or nil.
func (s *Supervisor) Subscription(id string) *Subscription {
	for _, sub := range s.subs {
		if sub.SubscriberID() == id {
			return sub
		}
	}
	return nil
}

// Parked returns the statuses of parked subscriptions.
func (s *Supervisor) Parked() []Status {
	var out []Status
	for _, sub := range s.subs {
		if st := sub.Status(); st.State == StateParked {
			out = append(out, st)
		}
	}
	return out
}
