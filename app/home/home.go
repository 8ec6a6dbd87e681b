package home

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/live"
	"videotutorials/messagestore"
	"videotutorials/templates"
	"videotutorials/viewdata"
)

// Contract declares the home application: it reads the home page view and writes no messages.
var Contract = messagestore.Contract{Name: "home", Kind: "application"}

// DemoVideoID is the video whose viewing the home page's button records, as the book's home page
// records one of a fixed video.
const DemoVideoID = "8d0f4a8e-2f43-4c5e-9a86-6c0fbb7a4f11"

// LivePath is the server-sent event stream of the home page's counter.
const LivePath = "/live/home"

// recordViewingPath is the record-viewings application's route for a video.
func recordViewingPath(videoID string) string { return "/record-viewing/" + videoID }

// demoRecordViewingPath is the home page button's form action.
var demoRecordViewingPath = recordViewingPath(DemoVideoID)

// countEvent is the event the home-page aggregator publishes on live.TopicHome after the count
// changed; its data is the new count in decimal.
const countEvent = "videosWatched"

// Deps are what the home application needs.
type Deps struct {
	// Views is where the home page view is read: the read-only pool.
	Views viewdata.Querier
	// Hub serves the live counter. Nil: the page works without live updates.
	Hub    *live.Hub
	Logger *slog.Logger
	// CacheTTL bounds how long GET / serves the view data from memory while Run relays the
	// aggregator's events (which invalidate it at once). Zero: DefaultCacheTTL; negative: no cache.
	CacheTTL time.Duration
}

// App is the home application.
type App struct {
	views viewdata.Querier
	hub   *live.Hub
	log   *slog.Logger
	cache *viewCache
}

// New returns the home application.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	ttl := d.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	a := &App{views: d.Views, hub: d.Hub, log: log.With("application", Contract.Name), cache: newViewCache(ttl)}
	a.cache.onStale = func(err error) {
		a.log.Warn("home page view unreadable; showing the last one read", "err", err)
	}
	return a
}

// Routes mounts GET / and, with a hub, the live counter stream.
func (a *App) Routes(r app.Router) {
	r.GET("/", a.showHome)
	if a.hub != nil {
		r.GET(LivePath, app.LiveStream(a.hub, app.LiveTopic(live.TopicHome)))
	}
}

// listedVideos is how many published videos the home page lists (the latest uploads).
const listedVideos = 24

// showHome fetches the home page view and the published videos and renders them.
func (a *App) showHome(c echo.Context) error {
	data, err := a.cache.get(c.Request().Context(), a.load)
	if err != nil {
		return err
	}
	view := templates.HomeView{
		VideosWatched:    data.page.VideosWatched,
		RecordViewingURL: demoRecordViewingPath,
		Videos:           data.videos,
	}
	if data.more {
		view.MoreVideosURL = MoreVideosPath(data.videos[len(data.videos)-1].ID)
	}
	if a.hub != nil {
		view.LiveURL = LivePath
	}
	// Anonymous visitors of cached data get the page rendered once for all of them; only the CSRF
	// token and the trace id are theirs. Signed-in visitors see their email in the header.
	if data.anonymous != nil {
		page, err := data.anonymous.get(func() (*app.AnonymousPage, error) {
			return app.CompileAnonymousPage(homeTitle, "/", func(p templates.Page) templ.Component { return templates.Home(p, view) })
		})
		if err != nil {
			a.log.Warn("home page not cached; rendering it per request", "error", err)
		} else if served, err := app.RenderAnonymous(c, http.StatusOK, page); served || err != nil {
			return err
		}
	}
	return app.Render(c, http.StatusOK, templates.Home(app.PageFor(c, homeTitle), view))
}

const homeTitle = "Home"

// load reads the home page view and the published videos.
func (a *App) load(ctx context.Context) (homeData, error) {
	page, err := viewdata.HomePage(ctx, a.views)
	if err != nil {
		return homeData{}, err
	}
	// One more than listed: whether the page links the video index.
	videos, err := viewdata.PublishedVideos(ctx, a.views, listedVideos+1)
	if err != nil {
		return homeData{}, err
	}
	more := len(videos) > listedVideos
	if more {
		videos = videos[:listedVideos]
	}
	return homeData{page: page, videos: videos, more: more}, nil
}

// MoreVideosPath is the video index's page after the video afterID (app/watch serves it).
func MoreVideosPath(afterID string) string { return "/videos?after=" + afterID }

// Run relays the home-page aggregator's counts to open home pages as "update" events until ctx ends
// (or the hub closes). Without a hub it just waits for ctx. main runs it next to the web server.
func (a *App) Run(ctx context.Context) error {
	if a.hub == nil {
		<-ctx.Done()
		return nil
	}
	// While the relay runs, every count event invalidates the page's cache, so the cache is on.
	defer a.cache.setActive(false)
	for {
		sub := a.hub.Subscribe(live.TopicHome)
		a.cache.setActive(true) // after subscribing: no event can be missed
		stop := context.AfterFunc(ctx, sub.Close)
		for ev := range sub.Events() {
			if ev.Name != countEvent {
				continue // our own updates, or events for the page itself
			}
			a.cache.invalidate()
			update, ok := countUpdate(ev.Data)
			if !ok {
				a.log.Warn("ignoring a malformed home page count", "data", ev.Data)
				continue
			}
			a.hub.Publish(live.TopicHome, live.EventUpdate, update)
		}
		stop()
		a.cache.setActive(false)
		// The channel closed: ctx ended, the hub closed, or we fell behind and were dropped. Only
		// the last is worth a new subscription (whose retained event brings the current count).
		if ctx.Err() != nil || !sub.Lagged() {
			return nil
		}
	}
}

// countUpdate turns the aggregator's count into the page's update data.
func countUpdate(data string) (string, bool) {
	n, err := strconv.ParseInt(data, 10, 64)
	if err != nil || n < 0 {
		return "", false
	}
	b, _ := json.Marshal(map[string]string{
		"videosWatched":     strconv.FormatInt(n, 10),
		"videosWatchedUnit": templates.VideosUnit(n),
	})
	return string(b), true
}
