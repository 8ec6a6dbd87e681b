package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"videotutorials/viewdata"
)

// TestBrowserPublishNameAndPlayAVideo drives headless Chromium through the creators portal: upload a
// real video, see it become published on the dashboard without a reload, name it and watch the
// operation page move on to the video by itself, then find the <video> element able to play, on the
// portal and on the public watch page, where playing records a viewing.
func TestBrowserPublishNameAndPlayAVideo(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("no Chromium at " + chromiumPath)
	}
	p := startProgram(t)

	// Register over HTTP; the browser logs in for itself.
	email, password := strings.ToLower(freshE2EEmail()), "browser creator password"
	if _, res := p.visitor().register(email, password); res.status != http.StatusSeeOther {
		t.Fatalf("register: %d", res.status)
	}
	eventually(t, "the credentials view", func() bool {
		_, err := viewdata.CredentialsByEmail(context.Background(), p.views, email)
		return err == nil
	})
	name, clip := testClip(t)
	clipPath := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(clipPath, clip, 0o644); err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.ExecPath(chromiumPath),
	)...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browserCtx, 50*time.Second)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// poll evaluates expr until it is true. It evaluates again when a navigation interrupted it: the
	// pages under test move on by themselves.
	poll := func(what, expr string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				t.Fatalf("%s (at %s): %v", what, loc, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	do("log in",
		chromedp.Navigate(p.base+"/auth/log-in?next="+url.QueryEscape("/creators-portal/")),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form[action="/auth/log-in"] button[type="submit"]`),
		chromedp.WaitVisible(`#upload-form`),
	)

	// Upload: back on the dashboard, the video appears and turns "Published" in place.
	do("upload",
		chromedp.SetUploadFiles(`#video-file`, []string{clipPath}),
		chromedp.Click(`#upload-button`),
		chromedp.WaitVisible(`tr.creators-video`),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	videoID := u.Query().Get("uploaded")
	if uuid.Validate(videoID) != nil {
		t.Fatalf("after the upload the browser is at %s", loc)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	poll("the dashboard to show the video published",
		`(document.querySelector('[data-live-field="`+videoID+`.status"]') || {}).textContent === "Published"`)
	still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	if err != nil || !still {
		t.Errorf("the dashboard reloaded rather than updating in place (%v)", err)
	}

	// Name it: the operation page goes on to the video by itself.
	videoPage := "/creators-portal/videos/" + videoID
	do("name the video",
		chromedp.Navigate(p.base+videoPage),
		chromedp.WaitVisible(`#video-name`),
		chromedp.SetValue(`#video-name`, "Made in a browser"),
	)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.beforeNaming = true`)); err != nil {
		t.Fatal(err)
	}
	do("send the name", chromedp.Click(`#name-button`))
	poll("the operation page to move on to the video", `window.beforeNaming === undefined && location.pathname === `+jsString(videoPage))
	poll("the new name on the video page", `(document.getElementById("video-heading") || {}).textContent === "Made in a browser"`)

	// The portal's player can play it.
	poll("the portal's player to be able to play", playable("video-player"))

	// The public watch page plays it, and playing records a viewing.
	do("open the watch page", chromedp.Navigate(p.base+"/videos/"+videoID), chromedp.WaitVisible(`#watch-player`))
	poll("the watch page's player to be able to play", playable("watch-player"))
	poll("the viewing to be recorded", `document.getElementById("watch-player").getAttribute("data-viewing") === "recorded"`)
	eventually(t, "the viewing to be counted", func() bool { return p.video(videoID).Views == 1 })

	cancelBrowser()
	p.stop()
}

// playable is a JavaScript expression that starts the (muted) player and is true once it has data to
// play (readyState HAVE_CURRENT_DATA or more) and has not failed.
func playable(id string) string {
	return `(() => {
		const v = document.getElementById(` + jsString(id) + `);
		if (!v || v.error) { return false; }
		if (!v.dataset.started) { v.dataset.started = "1"; v.muted = true; v.play().catch(() => {}); }
		return v.readyState >= 2;
	})()`
}
