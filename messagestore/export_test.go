package messagestore

// SetMaxInFlight sets how many combined transactions of one category may be under way at once, so that
// the hot-category benchmark can compare settings side by side.
func SetMaxInFlight(s *Store, n int) { s.combiner.maxInFlight = n }
