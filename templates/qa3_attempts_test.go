package templates

import (
	"context"
	"strings"
	"testing"
	"time"

	"videotutorials/viewdata"
)

// A subscription that has failed once says "1 attempt", on this process's subscriptions page (a
// handler error is shown from its first failure) and on the positions page (parked or retrying).
func TestAdminAttemptsOfOneAreSingular(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		n    int
		want string
	}{{1, "(1 attempt "}, {2, "(2 attempts "}} {
		var subs strings.Builder
		if err := AdminSubscriptionsPage(Page{Title: "s"}, []viewdata.AdminSubscriptionView{{
			SubscriberID: "x", Category: "y", State: "retrying", LastError: "boom", Attempts: tc.n, FailingSince: "then",
		}}).Render(context.Background(), &subs); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(subs.String(), "boom "+tc.want+"since then)") {
			t.Errorf("subscriptions page, %d attempts: no %q", tc.n, "boom "+tc.want+"since then)")
		}
		for _, p := range []viewdata.AdminSubscriberPosition{
			{SubscriberID: "x", Parked: true, ParkedSince: since, ParkedError: "boom", Attempts: tc.n},
			{SubscriberID: "x", Retrying: true, ParkedSince: since, ParkedError: "boom", Attempts: tc.n},
		} {
			var positions strings.Builder
			if err := AdminPositionsPage(Page{Title: "p"}, viewdata.AdminPositionsView{Positions: []viewdata.AdminSubscriberPosition{p}}).
				Render(context.Background(), &positions); err != nil {
				t.Fatal(err)
			}
			want := "boom " + strings.TrimSuffix(tc.want, " ")
			if !strings.Contains(positions.String(), want) || strings.Contains(tc.want, "1 attempt ") && strings.Contains(positions.String(), "1 attempts") {
				t.Errorf("positions page (parked %v), %d attempts: no %q", p.Parked, tc.n, want)
			}
		}
	}
}
