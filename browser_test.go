package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"videotutorials/viewdata"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowserLiveHomeCounter drives Debian's headless Chromium through the site as a person would:
// register, log in, and watch the home page's counter change without a reload while a viewing is
// recorded in a second tab.
func TestBrowserLiveHomeCounter(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skip("no Chromium at " + chromiumPath)
	}
	p := startProgram(t)

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
	ctx, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	defer cancel()

	do := func(what string, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	email, password := strings.ToLower(freshE2EEmail()), "browser password 1"

	do("register", ctx,
		chromedp.Navigate(p.base+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form[action="/register"] button[type="submit"]`),
		chromedp.WaitVisible(`#registered-heading`),
	)
	// Registration completes asynchronously; wait for it (and for its email, so that no work is
	// left for a later test's program on this database).
	var userID string
	eventually(t, "the credentials view", func() bool {
		c, err := viewdata.CredentialsByEmail(context.Background(), p.views, email)
		userID = c.ID
		return err == nil
	})
	eventually(t, "the registration email", func() bool { return count(p.identityEvents(userID), "RegistrationEmailSent") == 1 })

	do("log in", ctx,
		chromedp.Navigate(p.base+"/auth/log-in"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#password`, password),
		chromedp.Click(`form[action="/auth/log-in"] button[type="submit"]`),
		chromedp.WaitVisible(`.account__user`),
	)
	if got := text(ctx, `.account__user`); got != email {
		t.Fatalf("header shows %q, want %s", got, email)
	}

	// The first tab shows the home page with its live stream open, and marks the document so that a
	// reload would be noticed.
	do("open the home page", ctx,
		chromedp.Navigate(p.base+"/"),
		chromedp.WaitVisible(`[data-live-src][data-live-state="open"]`),
	)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	before := text(ctx, `#videos-watched`)

	// A second tab of the same browser (same session) records a viewing.
	tab2, cancelTab2 := chromedp.NewContext(ctx)
	defer cancelTab2()
	do("record a viewing in the second tab", tab2,
		chromedp.Navigate(p.base+"/"),
		chromedp.WaitVisible(`#record-viewing`),
		chromedp.Click(`#record-viewing`),
		chromedp.WaitVisible(`#videos-watched`),
	)

	// The first tab's counter changes in place.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.getElementById("videos-watched").textContent.trim() !== `+jsString(before),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the counter stayed at %s: %v", before, err)
	}
	after := text(ctx, `#videos-watched`)
	stillThere, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`))
	if err != nil || !stillThere {
		t.Fatalf("the page reloaded (%v) instead of updating in place", err)
	}
	t.Logf("counter went from %s to %s without a reload", before, after)

	cancelTab2()
	cancelBrowser()
	p.stop()
}

// jsString quotes s as a JavaScript string literal (s is digits here; this keeps it safe anyway).
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
