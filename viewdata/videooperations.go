package viewdata

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Kinds of video operation.
const (
	VideoOperationName     = "name"
	VideoOperationDescribe = "describe"
)

// VideoOperation is a row of the video_operations view: the outcome of one name or describe request,
// keyed by the request's trace id. The video-operations aggregator writes it.
type VideoOperation struct {
	TraceID       string
	VideoID       string
	Kind          string // VideoOperationName or VideoOperationDescribe
	Succeeded     bool
	FailureReason string
}

// VideoOperationByTraceID returns the outcome of the request with traceID, or ErrNotFound while it is
// pending.
func VideoOperationByTraceID(ctx context.Context, q Querier, traceID string) (VideoOperation, error) {
	var op VideoOperation
	err := q.QueryRow(ctx, `SELECT trace_id, video_id::text, kind, succeeded, coalesce(failure_reason, '')
		FROM video_operations WHERE trace_id = $1`, traceID).
		Scan(&op.TraceID, &op.VideoID, &op.Kind, &op.Succeeded, &op.FailureReason)
	if errors.Is(err, pgx.ErrNoRows) {
		return VideoOperation{}, ErrNotFound
	}
	if err != nil {
		return VideoOperation{}, fmt.Errorf("video operation %s: %w", traceID, err)
	}
	return op, nil
}

// VideoShowsOperation reports whether the creators-portal view of the operation's video has applied
// the operation's event (the row's position, the last video-publishing event it applied, is at least
// the event's). The operation and the video rows are written by two aggregators: until then a page of
// the video still shows it as it was before the change. False when either row is missing.
func VideoShowsOperation(ctx context.Context, q Querier, traceID string) (bool, error) {
	var shows bool
	err := q.QueryRow(ctx, `SELECT v.position >= o.position FROM video_operations o
		JOIN creators_portal_videos v ON v.id = o.video_id WHERE o.trace_id = $1`, traceID).Scan(&shows)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("video of operation %s: %w", traceID, err)
	}
	return shows, nil
}
