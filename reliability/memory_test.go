package reliability

import (
	"testing"
	"time"
)

// TestMemory runs the load against one process for ten minutes (only with -reliability.long) and
// samples its resident set size: after warming up, memory must stay flat — the last sample no more
// than 1.5 times the first one taken after the first minute.
func TestMemory(t *testing.T) {
	if !*longRun {
		t.Skip("the ten-minute memory run needs -reliability.long")
	}
	s := newSystem(t, freshDatabase(t))
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 3)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 4, creators: []*creator{cr}})
	start := time.Now()
	var samples []int
	for time.Since(start) < 10*time.Minute {
		time.Sleep(30 * time.Second)
		rss := p.rssKB()
		samples = append(samples, rss)
		t.Logf("%4.0fs RSS %d MiB, %d requests accepted", time.Since(start).Seconds(), rss/1024, ld.ok.Load())
	}
	ld.finish()
	// video-publishing handles its commands one at a time and transcodes each upload with ffmpeg: a
	// sustained load leaves it a backlog to work off (see docs/RELIABILITY.md).
	settleStart := time.Now()
	checkInvariants(t, s, l, checkOptions{settle: 20 * time.Minute})
	t.Logf("settled %s after the load stopped; RSS %d MiB", time.Since(settleStart).Round(time.Second), p.rssKB()/1024)
	if warm, last := samples[1], samples[len(samples)-1]; float64(last) > 1.5*float64(warm) {
		t.Errorf("RSS grew from %d KiB (after one minute) to %d KiB", warm, last)
	}
}
