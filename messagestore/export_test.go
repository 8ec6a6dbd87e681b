package messagestore

// SetMaxInFlight sets how many combined transactions of one category may be under way at once, so that
// the hot-category benchmark can compare settings side by side.
func SetMaxInFlight(s *Store, n int) { s.combiner.maxInFlight = n }

// CombinerIdle reports whether no combined write is queued or under way.
func CombinerIdle(s *Store) bool {
	s.combiner.mu.Lock()
	defer s.combiner.mu.Unlock()
	return len(s.combiner.queue) == 0 && len(s.combiner.flushers) == 0
}
