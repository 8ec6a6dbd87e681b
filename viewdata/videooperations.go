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
