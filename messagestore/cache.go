package messagestore

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// EntityCache keeps recently projected entities of one kind in memory, with the version of their
// stream they were projected up to, so that FetchCached reads only a stream's new messages instead of
// replaying all of it. It is a least-recently-used cache bounded by its number of entries, and safe
// for concurrent use (the handlers of several subscriptions of one component may share it).
//
// Rules:
//   - The cache holds only what was read from the store: an entity at version v is the projection of
//     the stream's messages 0..v. A stream only grows, so a cached entry is never wrong, only possibly
//     behind; FetchCached always reads from v+1 and catches up before it returns.
//   - Entities are values. The cache stores the value the projection returned and hands out copies of
//     it; an entity holding maps, slices or pointers needs Projection.Clone, or an Apply that never
//     mutates what it is given (returning new maps and slices instead).
//   - A write that fails with a version conflict should call Invalidate (the next fetch then replays
//     the stream). Reading from v+1 would find the new messages anyway; Invalidate is the belt to that
//     pair of braces, and the cure if a stream were ever rewritten behind the process's back (a store
//     restored from a backup).
type EntityCache[E any] struct {
	mu      sync.Mutex
	size    int
	order   *list.List // front: most recently used; values are *cachedEntity[E]
	entries map[string]*list.Element
	stats   CacheStats
}

// CacheStats counts a cache's use.
type CacheStats struct {
	Hits, Misses, Evictions uint64
}

type cachedEntity[E any] struct {
	stream  string
	entity  E
	version int64
}

// NewEntityCache returns a cache of at most size entities (at least 1).
func NewEntityCache[E any](size int) *EntityCache[E] {
	return &EntityCache[E]{size: max(size, 1), order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the cached entity of a stream and the version it was projected up to.
func (c *EntityCache[E]) Get(stream string) (E, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[stream]
	if !ok {
		c.stats.Misses++
		var zero E
		return zero, -1, false
	}
	c.stats.Hits++
	c.order.MoveToFront(el)
	e := el.Value.(*cachedEntity[E])
	return e.entity, e.version, true
}

// Put records the entity of a stream at a version. An entry already at a later version is kept: two
// handlers that fetched the same stream concurrently cannot move it back.
func (c *EntityCache[E]) Put(stream string, entity E, version int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[stream]; ok {
		e := el.Value.(*cachedEntity[E])
		if version >= e.version {
			e.entity, e.version = entity, version
		}
		c.order.MoveToFront(el)
		return
	}
	c.entries[stream] = c.order.PushFront(&cachedEntity[E]{stream: stream, entity: entity, version: version})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cachedEntity[E]).stream)
		c.stats.Evictions++
	}
}

// Invalidate forgets a stream's entity.
func (c *EntityCache[E]) Invalidate(stream string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[stream]; ok {
		c.order.Remove(el)
		delete(c.entries, stream)
	}
}

// Len returns the number of cached entities.
func (c *EntityCache[E]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Stats returns the cache's counters.
func (c *EntityCache[E]) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// FetchCached is Fetch through a cache: it starts from the cached entity and version of the stream
// (Init and -1 when there is none), reads and applies only the messages after that version (paging
// through them, whatever their number), caches the result and returns it with the stream's version.
// Handling a command on a long stream therefore costs one short read instead of a full replay.
// cache may be nil: then it is Fetch.
func FetchCached[E any](ctx context.Context, s *Store, cache *EntityCache[E], streamName string, p Projection[E]) (E, int64, error) {
	if cache == nil {
		return Fetch(ctx, s, streamName, p)
	}
	entity, version, ok := cache.Get(streamName)
	if !ok {
		entity, version = p.Init(), -1
	} else if p.Clone != nil {
		entity = p.Clone(entity)
	}
	start := version
	entity, version, err := project(ctx, s, streamName, p, entity, version)
	if err != nil {
		return entity, version, err
	}
	if !ok || version != start {
		stored := entity
		if p.Clone != nil {
			stored = p.Clone(entity)
		}
		cache.Put(streamName, stored, version)
	}
	return entity, version, nil
}

// project applies the stream's messages after version to entity.
func project[E any](ctx context.Context, s *Store, streamName string, p Projection[E], entity E, version int64) (E, int64, error) {
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
