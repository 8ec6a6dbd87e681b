package messagestore

import (
	"context"
)

// Projection folds a stream's messages into an entity, as the book's projections do: an initial
// value and one function applied to every message in order. Apply must ignore types it does not know.
type Projection[E any] struct {
	Init  func() E
	Apply func(entity E, m Message) (E, error)
	// Clone, when set, copies an entity deeply. FetchCached needs it for entities that hold maps,
	// slices or pointers which Apply changes in place; plain value entities need none.
	Clone func(E) E
}

// Fetch projects the whole stream (paging through it, whatever its length) and returns the entity with
// the stream's version (-1 when the stream is empty), to be used as the expected version of the write
// that follows the decision. FetchCached does the same reading only what a cache has not seen.
func Fetch[E any](ctx context.Context, s *Store, streamName string, p Projection[E]) (E, int64, error) {
	return project(ctx, s, streamName, p, p.Init(), -1)
}
