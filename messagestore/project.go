package messagestore

import (
	"context"
	"fmt"
)

// Projection folds a stream's messages into an entity, as the book's projections do: an initial
// value and one function applied to every message in order. Apply must ignore types it does not know.
type Projection[E any] struct {
	Init  func() E
	Apply func(entity E, m Message) (E, error)
}

// Fetch projects the whole stream (paging through it, whatever its length) and returns the entity with
// the stream's version (-1 when the stream is empty), to be used as the expected version of the write
// that follows the decision.
func Fetch[E any](ctx context.Context, s *Store, streamName string, p Projection[E]) (E, int64, error) {
	entity := p.Init()
	version := int64(-1)
	for {
		msgs, err := s.ReadStream(ctx, streamName, version+1, DefaultBatchSize)
		if err != nil {
			return entity, version, fmt.Errorf("fetch %s: %w", streamName, err)
		}
		for _, m := range msgs {
			if entity, err = p.Apply(entity, m); err != nil {
				return entity, version, fmt.Errorf("project %s at %d: %w", streamName, m.Position, err)
			}
			version = m.Position
		}
		if len(msgs) < DefaultBatchSize {
			return entity, version, nil
		}
	}
}
