package viewdata

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// HomePageName is the key of the home page's row in the pages table (the book's 'home').
const HomePageName = "home"

// HomePageData is the home page view: the book's pages row 'home', whose page_data is
// {"videosWatched": N, "lastViewProcessed": P}. The home-page aggregator writes it.
type HomePageData struct {
	// VideosWatched counts every VideoViewed event.
	VideosWatched int64
	// LastViewProcessed is the global position of the last VideoViewed counted (the aggregator's
	// watermark); 0 before any viewing.
	LastViewProcessed int64
}

// HomePage returns the home page view. A missing row (a database whose seed was removed, or a view
// being rebuilt) is an empty home page rather than an error: the home page must work before any
// viewing exists.
func HomePage(ctx context.Context, q Querier) (HomePageData, error) {
	var p HomePageData
	err := q.QueryRow(ctx, `SELECT
			coalesce((page_data->>'videosWatched')::bigint, 0),
			coalesce((page_data->>'lastViewProcessed')::bigint, 0)
		FROM pages WHERE page_name = $1`, HomePageName).Scan(&p.VideosWatched, &p.LastViewProcessed)
	if errors.Is(err, pgx.ErrNoRows) {
		return HomePageData{}, nil
	}
	if err != nil {
		return HomePageData{}, fmt.Errorf("home page view: %w", err)
	}
	return p, nil
}
