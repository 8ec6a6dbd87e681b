package loadtest

// Merge adds b, a run of the same load, to a (rounds of an alternating comparison): counts,
// durations and latencies add up; CPU is averaged by duration, RSS maxima are kept.
func Merge(a, b LoadResult) LoadResult {
	if a.Name == "" {
		return b
	}
	wa, wb := a.Duration.Seconds(), b.Duration.Seconds()
	out := a
	out.OK += b.OK
	out.Errors += b.Errors
	if out.FirstErr == "" {
		out.FirstErr = b.FirstErr
	}
	out.Duration += b.Duration
	out.Latencies = append(append(Latencies{}, a.Latencies...), b.Latencies...)
	out.Usage = make([]Usage, len(a.Usage))
	for i := range a.Usage {
		u := a.Usage[i]
		if i < len(b.Usage) {
			v := b.Usage[i]
			u.CPUPercent = (u.CPUPercent*wa + v.CPUPercent*wb) / (wa + wb)
			u.RSSMax = max(u.RSSMax, v.RSSMax)
			u.RSSMean = (u.RSSMean + v.RSSMean) / 2
		}
		out.Usage[i] = u
	}
	return out
}
