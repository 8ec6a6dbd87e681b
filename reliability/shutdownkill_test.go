package reliability

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// TestKillDuringShutdown asks the only process to stop (SIGTERM) under load and kills it (SIGKILL)
// at a random moment of its graceful shutdown — while it finishes requests, stops subscriptions and
// saves their positions — then starts it again. Nothing may be lost or done twice.
func TestKillDuringShutdown(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 2)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 3, creators: []*creator{cr}})
	rounds := scale(4, 30)
	for range rounds {
		time.Sleep(time.Duration(300+rand.IntN(1000)) * time.Millisecond)
		p.signal(syscall.SIGTERM, time.Duration(rand.IntN(300))*time.Millisecond)
		p.kill() // a no-op if the shutdown was over already
		p.restart()
	}
	time.Sleep(time.Second)
	ld.finish()
	checkInvariants(t, s, l)
}
