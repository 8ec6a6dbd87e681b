package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"videotutorials/aggregators/adminstreams"
	"videotutorials/aggregators/adminsubscriberpositions"
	"videotutorials/aggregators/adminusers"
	"videotutorials/aggregators/creatorsvideos"
	"videotutorials/aggregators/homepage"
	"videotutorials/aggregators/usercredentials"
	"videotutorials/aggregators/videooperations"
	"videotutorials/app"
	"videotutorials/app/authenticate"
	"videotutorials/app/creatorsportal"
	"videotutorials/app/home"
	"videotutorials/app/live"
	"videotutorials/app/recordviewings"
	"videotutorials/app/registerusers"
	"videotutorials/app/watch"
	"videotutorials/components/identity"
	"videotutorials/components/sendemail"
	"videotutorials/components/videopublishing"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

// system is everything assemble builds for this process's roles: the subscriptions to run, the web
// applications to mount and every contract (for the admin system map, the boundary test and the docs).
type system struct {
	subscriptions []messagestore.SubscriptionConfig
	apps          []application
	contracts     []messagestore.Contract
	// live receives the events that update pages in place. With the web role in this process it is
	// the local hub; otherwise a bridge that forwards them to the web processes. It is set before any
	// component, aggregator or application is built.
	live liveNotifier
	hub  *live.Hub // nil without the web role
	// identify tells the web shell a signed-in user's email and whether they are an admin.
	identify func(ctx context.Context, userID string) (app.Identity, error)
	// background are extra long-running tasks (the live bridge and listener).
	background []func(context.Context) error
}

// liveNotifier publishes live-page events (see app/live).
type liveNotifier interface {
	Publish(topic, event, data string)
}

// subscriber is what every component and aggregator offers main.
type subscriber interface {
	Subscriptions() []messagestore.SubscriptionConfig
}

// assemble builds the components, aggregators and applications with their dependencies. Only the roles
// this process runs are started, but every contract is listed.
func assemble(ctx context.Context, cfg Config, log *slog.Logger, d *databases, store *messagestore.Store, m *metrics) (*system, error) {
	sys := &system{}
	if cfg.Runs(RoleWeb) {
		sys.hub = live.NewHub(live.Options{})
		sys.live = sys.hub
		if !cfg.Runs(RoleAggregators) {
			sys.background = append(sys.background, func(ctx context.Context) error { return listenLive(ctx, d.views, sys.hub, log) })
		}
	} else {
		bridge := newLiveBridge(d.views, log)
		sys.live = bridge
		sys.background = append(sys.background, bridge.Run)
	}
	add := func(role string, c messagestore.Contract, s subscriber) {
		sys.contracts = append(sys.contracts, c)
		if cfg.Runs(role) && s != nil {
			sys.subscriptions = append(sys.subscriptions, s.Subscriptions()...)
		}
	}

	// Components.
	transport, err := sendemail.NewTransport(cfg.EmailDirectory, cfg.SMTPURL)
	if err != nil {
		return nil, err
	}
	add(RoleComponents, identity.Contract, identity.New(identity.Deps{Store: store, Logger: log, BaseURL: cfg.BaseURL}))
	add(RoleComponents, sendemail.Contract, sendemail.New(sendemail.Deps{Store: store, Logger: log, Transport: transport,
		Sender: cfg.SenderEmail}))
	add(RoleComponents, videopublishing.Contract, videopublishing.New(videopublishing.Deps{Store: store, Logger: log,
		MediaDir: cfg.MediaDirectory}))

	// Aggregators.
	add(RoleAggregators, homepage.Contract, homepage.New(homepage.Deps{DB: d.views, Logger: log, Live: sys.live}))
	add(RoleAggregators, usercredentials.Contract, usercredentials.New(usercredentials.Deps{DB: d.views, Logger: log, Live: sys.live,
		KeepLogOuts: app.DefaultSessionMaxAge}))
	add(RoleAggregators, adminusers.Contract, adminusers.New(adminusers.Deps{DB: d.views, Logger: log, Live: sys.live}))
	add(RoleAggregators, adminstreams.Contract, adminstreams.New(adminstreams.Deps{DB: d.views, Logger: log, Live: sys.live}))
	add(RoleAggregators, adminsubscriberpositions.Contract, adminsubscriberpositions.New(adminsubscriberpositions.Deps{DB: d.views, Logger: log, Live: sys.live}))
	add(RoleAggregators, creatorsvideos.Contract, creatorsvideos.New(creatorsvideos.Deps{DB: d.views, Logger: log, Live: sys.live}))
	add(RoleAggregators, videooperations.Contract, videooperations.New(videooperations.Deps{DB: d.views, Logger: log, Live: sys.live}))

	// Applications.
	sys.contracts = append(sys.contracts, home.Contract, recordviewings.Contract, registerusers.Contract,
		authenticate.Contract, creatorsportal.Contract, watch.Contract)
	if cfg.Runs(RoleWeb) {
		homeApp := home.New(home.Deps{Views: d.readonly, Hub: sys.hub, Logger: log})
		sys.apps = append(sys.apps,
			homeApp,
			recordviewings.New(recordviewings.Deps{Store: store, Logger: log}),
			registerusers.New(registerusers.Deps{Store: store, Views: d.readonly, Logger: log}),
			authenticate.New(authenticate.Deps{Store: store, Views: d.readonly, Logger: log}),
			// The creators portal (uploads into the media directory) and the public watch page.
			creatorsportal.New(creatorsportal.Deps{Store: store, Views: d.readonly, Hub: sys.hub, MediaDir: cfg.MediaDirectory,
				MaxUploadBytes: cfg.MaxUploadBytes, Logger: log}),
			watch.New(watch.Deps{Views: d.readonly, MediaDir: cfg.MediaDirectory, Logger: log}),
		)
		// The home page relays the home-page aggregator's counts to its live counter.
		sys.background = append(sys.background, homeApp.Run)
		sys.identify = identifyUser(cfg, d)
		addAdminApp(sys, d, store) // the admin portal (admin_wiring.go)
	}

	return sys, nil
}

// identifyUser tells the web shell a signed-in user's email, and whether they are an admin: their
// email is in ADMIN_EMAILS, or, on the dev database with no ADMIN_EMAILS, they registered first (so
// the demo's admin portal is explorable). An unknown user (the credentials view has not caught up, or
// the user does not exist) is a zero Identity.
func identifyUser(cfg Config, d *databases) func(ctx context.Context, userID string) (app.Identity, error) {
	firstUserIsAdmin := cfg.UsesDevDB() && len(cfg.AdminEmails) == 0
	return func(ctx context.Context, userID string) (app.Identity, error) {
		creds, err := viewdata.CredentialsByID(ctx, d.readonly, userID)
		if errors.Is(err, viewdata.ErrNotFound) {
			return app.Identity{}, nil
		}
		if err != nil {
			return app.Identity{}, err
		}
		id := app.Identity{Email: creds.Email, IsAdmin: slices.Contains(cfg.AdminEmails, creds.Email)}
		if firstUserIsAdmin {
			first, err := viewdata.FirstUserID(ctx, d.readonly)
			if err != nil {
				return app.Identity{}, err
			}
			id.IsAdmin = first == creds.ID
		}
		return id, nil
	}
}
