package loadtest

import (
	"fmt"
	"slices"
	"time"
)

// Latencies is a set of measured durations.
type Latencies []time.Duration

// Percentile returns the p-th percentile (0 < p <= 100), nearest rank; 0 when empty. It sorts l.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	if !slices.IsSorted(l) {
		slices.Sort(l)
	}
	i := int(float64(len(l))*p/100+0.999999) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// Summary is "p50 … p90 … p99 … max …" in milliseconds.
func (l Latencies) Summary() string {
	if len(l) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)",
		ms(l.Percentile(50)), ms(l.Percentile(90)), ms(l.Percentile(99)), ms(l.Percentile(100)), len(l))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
