// Package homepage is the home-page aggregator of the book: it counts every VideoViewed event of the
// viewing category into the pages row 'home' ({"videosWatched", "lastViewProcessed"}), which the home
// page shows as "Viewers have watched N videos", and tells live pages about the new count.
//
// Rules: the aggregator applies each read batch in one statement (one round trip, one transaction).
// The row's lastViewProcessed is the watermark: only viewings with a greater global position are
// counted, and the watermark moves in the same statement as the count, so a batch handed over again
// after a crash (or overlapping an applied one) changes nothing, and dropping the row and reading from
// position 0 rebuilds the same view. A viewing after a quiet spell is read at once; a steady stream of
// them is read every 10 ms (SubscriptionConfig.SteadyLinger), so under load the count may be that
// late and the row is rewritten far less often. Within
// one category messages always arrive in global-position order, so one watermark is enough. The row is
// seeded by a migration and re-created if missing. Live notifications are sent only after the commit
// and only when the count changed; they are best effort (a page that misses one shows the count on its
// next load).
package homepage
