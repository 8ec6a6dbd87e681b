package main

import (
	"context"
	"time"

	"videotutorials/app/admin"
	"videotutorials/messagestore"
)

// addAdminApp mounts the admin portal. Its view data comes through the read-only pool, its messages
// from the message store's pool; the supervisor is handed over later (see handSupervisor), because
// run() creates it after assemble().
func addAdminApp(sys *system, d *databases, store *messagestore.Store) {
	a := admin.New(admin.Deps{
		Views:     d.readonly,
		Store:     d.store,
		Head:      store.CategoryHead,
		Contracts: func() []messagestore.Contract { return sys.contracts },
		Hub:       sys.hub,
		// Requests go out on the message store's NOTIFY channel, which every process listens on.
		RequestRetry: store.RequestRetry,
	})
	sys.apps = append(sys.apps, a)
	if sys.hub != nil {
		sys.background = append(sys.background, func(ctx context.Context) error { return a.RunLive(ctx, 2*time.Second) })
	}
}

// handSupervisor gives the supervisor to every application that shows subscriptions (the admin
// portal's subscriber health page).
func (sys *system) handSupervisor(sup *messagestore.Supervisor) {
	for _, a := range sys.apps {
		if h, ok := a.(interface {
			SetSupervisor(*messagestore.Supervisor)
		}); ok {
			h.SetSupervisor(sup)
		}
	}
}
