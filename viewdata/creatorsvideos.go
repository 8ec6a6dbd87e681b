package viewdata

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Statuses of a row of creators_portal_videos.
const (
	VideoStatusUnknown    = ""           // only viewings are known so far
	VideoStatusProcessing = "processing" // uploaded, not yet published
	VideoStatusPublished  = "published"
	VideoStatusFailed     = "failed"
)

// CreatorsVideo is a row of the creators_portal_videos view, which the creators-videos aggregator
// writes: a video with its owner, texts, views, files (media URIs relative to the media directory)
// and publishing status.
type CreatorsVideo struct {
	ID            string
	OwnerID       string // empty while only viewings are known
	Name          string // empty: untitled
	Description   string
	Views         int64
	SourceURI     string
	TranscodedURI string
	PosterURI     string
	Status        string // one of the VideoStatus constants
	FailureReason string
	UploadedAt    time.Time // zero when unknown
}

// DisplayName is the name to show: the name, or "Untitled".
func (v CreatorsVideo) DisplayName() string {
	if v.Name == "" {
		return "Untitled"
	}
	return v.Name
}

// StatusLabel is the status as shown to people.
func (v CreatorsVideo) StatusLabel() string { return VideoStatusLabel(v.Status) }

// Published reports whether the video can be watched.
func (v CreatorsVideo) Published() bool { return v.Status == VideoStatusPublished }

// HasPoster reports whether the video has a poster image.
func (v CreatorsVideo) HasPoster() bool { return v.Published() && v.PosterURI != "" }

// VideoStatusLabel is a status as shown to people.
func VideoStatusLabel(status string) string {
	switch status {
	case VideoStatusProcessing:
		return "Processing"
	case VideoStatusPublished:
		return "Published"
	case VideoStatusFailed:
		return "Failed"
	}
	return "Unknown"
}

const creatorsVideoColumns = `SELECT id::text, coalesce(owner_id::text, ''), name, description, views,
	coalesce(source_uri, ''), coalesce(transcoded_uri, ''), coalesce(poster_uri, ''), status,
	coalesce(failure_reason, ''), uploaded_at
	FROM creators_portal_videos`

// CreatorsVideoByID returns one video, or ErrNotFound (also for an id that is not a UUID).
func CreatorsVideoByID(ctx context.Context, q Querier, id string) (CreatorsVideo, error) {
	if _, err := uuid.Parse(id); err != nil {
		return CreatorsVideo{}, ErrNotFound
	}
	rows, err := q.Query(ctx, creatorsVideoColumns+` WHERE id = $1::uuid`, id)
	if err != nil {
		return CreatorsVideo{}, fmt.Errorf("creators video %s: %w", id, err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, scanCreatorsVideo)
	if errors.Is(err, pgx.ErrNoRows) {
		return CreatorsVideo{}, ErrNotFound
	}
	if err != nil {
		return CreatorsVideo{}, fmt.Errorf("creators video %s: %w", id, err)
	}
	return v, nil
}

// VideosOfOwner returns a creator's videos, the latest upload first, at most limit of them.
func VideosOfOwner(ctx context.Context, q Querier, ownerID string, limit int) ([]CreatorsVideo, error) {
	if _, err := uuid.Parse(ownerID); err != nil {
		return nil, nil
	}
	return creatorsVideos(ctx, q, creatorsVideoColumns+` WHERE owner_id = $1::uuid
		ORDER BY uploaded_at DESC NULLS LAST, id LIMIT $2`, ownerID, limit)
}

// VideosOfOwnerAfter returns the page of a creator's videos that follows the video afterID in
// VideosOfOwner's order (the latest upload first, then by id; uploads of unknown time last), at most
// limit of them. A video that is not the creator's (or not a UUID) starts no page: nothing is
// returned.
func VideosOfOwnerAfter(ctx context.Context, q Querier, ownerID, afterID string, limit int) ([]CreatorsVideo, error) {
	if _, err := uuid.Parse(ownerID); err != nil {
		return nil, nil
	}
	return videosAfter(ctx, q, afterID, limit, `owner_id = $3::uuid`, ownerID)
}

// videosAfter returns the page of the videos that match filter (a condition on creators_portal_videos
// whose arguments are $3 on) following the video afterID, in the lists' order: the latest upload
// first, then by id, uploads of unknown time last. A video that does not match filter (or an id that
// is not a UUID) starts no page: nothing is returned.
func videosAfter(ctx context.Context, q Querier, afterID string, limit int, filter string, args ...any) ([]CreatorsVideo, error) {
	if _, err := uuid.Parse(afterID); err != nil {
		return nil, nil
	}
	return creatorsVideos(ctx, q, creatorsVideoColumns+`,
		(SELECT uploaded_at AS t FROM creators_portal_videos WHERE id = $1::uuid AND `+filter+`) AS after
		WHERE `+filter+` AND CASE WHEN after.t IS NULL
			THEN uploaded_at IS NULL AND id > $1::uuid
			ELSE uploaded_at < after.t OR (uploaded_at = after.t AND id > $1::uuid) OR uploaded_at IS NULL END
		ORDER BY uploaded_at DESC NULLS LAST, id LIMIT $2`, append([]any{afterID, limit}, args...)...)
}

// PublishedVideos returns the published videos, the latest upload first, at most limit of them (the
// home page's list, and the first page of the video index).
func PublishedVideos(ctx context.Context, q Querier, limit int) ([]CreatorsVideo, error) {
	return creatorsVideos(ctx, q, creatorsVideoColumns+` WHERE status = 'published'
		ORDER BY uploaded_at DESC NULLS LAST, id LIMIT $1`, limit)
}

// PublishedVideosAfter returns the page of published videos that follows the video afterID in
// PublishedVideos' order, at most limit of them: the video index's later pages. A video that is not
// published (or an id that is not a UUID) starts no page: nothing is returned.
func PublishedVideosAfter(ctx context.Context, q Querier, afterID string, limit int) ([]CreatorsVideo, error) {
	return videosAfter(ctx, q, afterID, limit, `status = 'published'`)
}

func creatorsVideos(ctx context.Context, q Querier, sql string, args ...any) ([]CreatorsVideo, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("creators videos: %w", err)
	}
	videos, err := pgx.CollectRows(rows, scanCreatorsVideo)
	if err != nil {
		return nil, fmt.Errorf("creators videos: %w", err)
	}
	return videos, nil
}

func scanCreatorsVideo(row pgx.CollectableRow) (CreatorsVideo, error) {
	var v CreatorsVideo
	var uploaded *time.Time
	err := row.Scan(&v.ID, &v.OwnerID, &v.Name, &v.Description, &v.Views, &v.SourceURI, &v.TranscodedURI,
		&v.PosterURI, &v.Status, &v.FailureReason, &uploaded)
	if uploaded != nil {
		v.UploadedAt = uploaded.UTC()
	}
	return v, err
}
