package reliability

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestCrash kills the only process with SIGKILL at random moments while a load registers users,
// records viewings, uploads, names and describes videos, restarting it each time (scenario 1).
func TestCrash(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 2)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 3, creators: []*creator{cr}})
	kills := scale(5, 40)
	for i := range kills {
		time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
		p.kill()
		t.Logf("kill %d of %d", i+1, kills)
		p.restart()
	}
	time.Sleep(time.Second)
	ld.finish()
	checkInvariants(t, s, l)
}
