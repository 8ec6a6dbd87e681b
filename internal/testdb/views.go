package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// VideoRow is a creators_portal_videos row as the creators-videos aggregator leaves it, for the
// tests of the applications that read it. Empty strings are stored as NULL where the column allows.
type VideoRow struct {
	ID, Owner, Name, Description, Status, Reason, Transcoded, Poster string
	Views                                                            int64
}

// InsertVideo writes v into the view with SQL, uploaded now.
func InsertVideo(t testing.TB, pool *pgxpool.Pool, v VideoRow) {
	t.Helper()
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO creators_portal_videos
		(id, owner_id, name, description, status, failure_reason, transcoded_uri, poster_uri, views, uploaded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		v.ID, null(v.Owner), v.Name, v.Description, v.Status, null(v.Reason), null(v.Transcoded), null(v.Poster), v.Views,
		time.Now()); err != nil {
		t.Fatal(err)
	}
}
