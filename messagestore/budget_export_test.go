package messagestore

// SetReadBudget sets the store's ReadBudget, so that a test can go past it with a few small messages.
func SetReadBudget(s *Store, bytes int) { s.readBudget = bytes }
