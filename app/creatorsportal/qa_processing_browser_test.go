package creatorsportal_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

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
	user := uuid.NewString()

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
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browserCtx, 40*time.Second)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	poll := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !eval(expr) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	publish := func(id, status string) {
		t.Helper()
		if _, err := pool.Exec(context.Background(), `UPDATE creators_portal_videos SET status = $2,
			transcoded_uri = CASE WHEN $2 = 'published' THEN 'file:///media/'||$1||'.mp4' END,
			failure_reason = CASE WHEN $2 = 'failed' THEN 'could not transcode' END WHERE id = $1`, id, status); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(map[string]string{id + ".name": "Untitled", id + ".views": "0",
			id + ".status": viewdata.VideoStatusLabel(status), id + ".reason": ""})
		hub.Publish(live.DashboardTopic(user), "update", string(data))
	}

	do("open the site", chromedp.Navigate(srv.URL+"/t/token"))
	if !eval(`(() => { const x = new XMLHttpRequest(); x.open("GET", "/t/sign-in/` + user + `", false); x.send(); return x.status === 204; })()`) {
		t.Fatal("sign-in failed")
	}

	// Untouched page: it reloads by itself and shows the player.
	untouched := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: untouched, Owner: user, Status: viewdata.VideoStatusProcessing})
	do("open the processing video's page",
		chromedp.Navigate(srv.URL+"/creators-portal/videos/"+untouched),
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
		chromedp.Navigate(srv.URL+"/creators-portal/videos/"+typing),
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
	cancelBrowser()
}
