package messagestore

import "time"

// AgeLeases makes the lease session's last answer d older, as if the process had been frozen that
// long since.
func AgeLeases(l *Leases, d time.Duration) { l.spoke.Add(-int64(d)) }
