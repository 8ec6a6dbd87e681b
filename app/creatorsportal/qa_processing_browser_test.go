package creatorsportal_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/creatorsportal"
	"videotutorials/app/live"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

const chromiumPath = "/usr/bin/chromium"

// The owner's page of a video still being processed has no player, only a notice. Its status badge
// follows the live dashboard events, so once the video is published the badge said "Published" while
// the page went on saying "This video is being processed" without a player until the creator thought
// of reloading. The page now reloads itself when the status changes (and shows the player) — unless
// the creator has typed into its forms, which a reload would lose: then only the badge changes.
func TestBrowserProcessingVideoPageShowsThePlayerOncePublished(t *testing.T) {
	p := startPortalInBrowser(t)
	pool, user := p.pool, p.user
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) { t.Helper(); p.do(t, what, steps...) }
	eval := func(expr string) bool { t.Helper(); return p.eval(t, expr) }
	poll := func(what, expr string) { t.Helper(); p.poll(t, what, expr) }
	ctx := p.ctx
	publish := func(id, status string) {
		t.Helper()
		if _, err := pool.Exec(context.Background(), `UPDATE creators_portal_videos SET status = $2,
			transcoded_uri = CASE WHEN $2 = 'published' THEN 'file:///media/'||$1||'.mp4' END,
			failure_reason = CASE WHEN $2 = 'failed' THEN 'could not transcode' END WHERE id = $1`, id, status); err != nil {
			t.Fatal(err)
		}
		p.update(id, status)
	}

	// Untouched page: it reloads by itself and shows the player.
	untouched := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: untouched, Owner: user, Status: viewdata.VideoStatusProcessing})
	do("open the processing video's page",
		chromedp.Navigate(p.srv.URL+"/creators-portal/videos/"+untouched),
		chromedp.WaitVisible(`#video-heading`),
	)
	if eval(`!!document.getElementById("video-player")`) {
		t.Fatal("a processing video's page has a player")
	}
	poll("the live stream to open", `document.querySelector('[data-live-src]').getAttribute("data-live-state") === "open"`)
	publish(untouched, viewdata.VideoStatusPublished)
	poll("the page to show the player once the video is published", `!!document.getElementById("video-player")`)

	// A page whose form the creator is filling in keeps what was typed: only the badge changes.
	typing := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: typing, Owner: user, Status: viewdata.VideoStatusProcessing})
	do("open the other processing video's page",
		chromedp.Navigate(p.srv.URL+"/creators-portal/videos/"+typing),
		chromedp.WaitVisible(`#video-name`),
		chromedp.SendKeys(`#video-name`, "Half typed"),
	)
	poll("the live stream to open", `document.querySelector('[data-live-src]').getAttribute("data-live-state") === "open"`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	publish(typing, viewdata.VideoStatusPublished)
	poll("the badge to say Published", `document.querySelector('[data-live-field="`+typing+`.status"]').textContent === "Published"`)
	time.Sleep(500 * time.Millisecond)
	if !eval(`window.notReloaded === true && document.getElementById("video-name").value === "Half typed"`) {
		t.Error("the page reloaded over what the creator was typing")
	}
}

// portalInBrowser serves the creators portal with a live hub and drives headless Chromium signed in
// as user: the hub publishes what the creators-videos aggregator would, the pool holds the views.
type portalInBrowser struct {
	pool *pgxpool.Pool
	hub  *live.Hub
	srv  *httptest.Server
	user string
	ctx  context.Context
}

func startPortalInBrowser(t *testing.T) *portalInBrowser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("no Chromium at " + chromiumPath)
	}
	pool := testdb.NewPool(t)
	hub := live.NewHub(live.Options{})
	t.Cleanup(hub.Close)
	portal := creatorsportal.New(creatorsportal.Deps{Store: messagestore.New(pool, messagestore.Options{Logger: testdb.Quiet}),
		Views: pool, Hub: hub, MediaDir: t.TempDir(), Logger: testdb.Quiet})
	srv := httptest.NewServer(apptest.NewServer(t, app.Deps{}, portal).Echo())
	t.Cleanup(srv.Close)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ExecPath(chromiumPath),
	)...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	ctx, cancel := context.WithTimeout(browserCtx, 40*time.Second)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	p := &portalInBrowser{pool: pool, hub: hub, srv: srv, user: uuid.NewString(), ctx: ctx}
	p.do(t, "open the site", chromedp.Navigate(srv.URL+"/t/token"))
	if !p.eval(t, `(() => { const x = new XMLHttpRequest(); x.open("GET", "/t/sign-in/`+p.user+`", false); x.send(); return x.status === 204; })()`) {
		t.Fatal("sign-in failed")
	}
	return p
}

func (p *portalInBrowser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (p *portalInBrowser) eval(t *testing.T, expr string) bool {
	t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func (p *portalInBrowser) poll(t *testing.T, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !p.eval(t, expr) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// update publishes the dashboard event the creators-videos aggregator sends for video id with status.
func (p *portalInBrowser) update(id, status string) {
	data, _ := json.Marshal(map[string]string{id + ".name": "Untitled", id + ".views": "0",
		id + ".status": viewdata.VideoStatusLabel(status), id + ".reason": ""})
	p.hub.Publish(live.DashboardTopic(p.user), "update", string(data))
}

// The dashboard updated the rows it showed in place, but a video uploaded elsewhere (another tab,
// another device) never appeared until the creator reloaded: its events named a video the page had
// no row for. The first page of the dashboard now reloads itself when a new video starts processing
// — unless a file is chosen in the upload form, which a reload would lose. Older pages and updates of
// videos not on the page (views of older videos) do not reload.
func TestBrowserDashboardShowsAVideoUploadedElsewhere(t *testing.T) {
	p := startPortalInBrowser(t)
	shown := uuid.NewString()
	testdb.InsertVideo(t, p.pool, testdb.VideoRow{ID: shown, Owner: p.user, Status: viewdata.VideoStatusPublished})
	p.do(t, "open the dashboard", chromedp.Navigate(p.srv.URL+"/creators-portal/"), chromedp.WaitVisible(`#upload-form`))
	p.poll(t, "the live stream to open", `document.querySelector('[data-live-src]').getAttribute("data-live-state") === "open"`)
	if !p.eval(t, `window.notReloaded = true`) {
		t.Fatal("cannot mark the page")
	}
	// An update of a video that is not on the page and is not new: no reload.
	p.update(uuid.NewString(), viewdata.VideoStatusPublished)
	time.Sleep(500 * time.Millisecond)
	if !p.eval(t, `window.notReloaded === true`) {
		t.Fatal("the dashboard reloaded for an update of a video that is not new")
	}
	// A new upload, from elsewhere: the row appears.
	fresh := uuid.NewString()
	testdb.InsertVideo(t, p.pool, testdb.VideoRow{ID: fresh, Owner: p.user, Status: viewdata.VideoStatusProcessing})
	p.update(fresh, viewdata.VideoStatusProcessing)
	p.poll(t, "the new video's row", `!!document.getElementById("video-`+fresh+`")`)

	// With a file chosen for upload, another new video does not reload the page over it.
	file := filepath.Join(t.TempDir(), "clip.webm")
	if err := os.WriteFile(file, webmHead, 0o644); err != nil {
		t.Fatal(err)
	}
	p.poll(t, "the live stream to open again", `document.querySelector('[data-live-src]').getAttribute("data-live-state") === "open"`)
	p.do(t, "choose a file", chromedp.SetUploadFiles(`#video-file`, []string{file}))
	if !p.eval(t, `window.notReloaded = true`) {
		t.Fatal("cannot mark the page")
	}
	other := uuid.NewString()
	testdb.InsertVideo(t, p.pool, testdb.VideoRow{ID: other, Owner: p.user, Status: viewdata.VideoStatusProcessing})
	p.update(other, viewdata.VideoStatusProcessing)
	time.Sleep(700 * time.Millisecond)
	if !p.eval(t, `window.notReloaded === true && document.getElementById("video-file").files.length === 1`) {
		t.Error("the dashboard reloaded over the file chosen for upload")
	}

	// An older page of the dashboard does not reload for new videos.
	p.do(t, "open an older page", chromedp.Navigate(p.srv.URL+"/creators-portal/?after="+shown), chromedp.WaitVisible(`#upload-form`))
	p.poll(t, "the live stream to open", `document.querySelector('[data-live-src]').getAttribute("data-live-state") === "open"`)
	if !p.eval(t, `window.notReloaded = true`) {
		t.Fatal("cannot mark the page")
	}
	last := uuid.NewString()
	testdb.InsertVideo(t, p.pool, testdb.VideoRow{ID: last, Owner: p.user, Status: viewdata.VideoStatusProcessing})
	p.update(last, viewdata.VideoStatusProcessing)
	time.Sleep(700 * time.Millisecond)
	if !p.eval(t, `window.notReloaded === true`) {
		t.Error("an older page of the dashboard reloaded for a new video")
	}
}
