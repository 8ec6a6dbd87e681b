package reliability

import (
	"syscall"
	"testing"
	"time"

	"videotutorials/components/identity"
)

// TestFrozenLeaseHolder stops (SIGSTOP) the process that holds identity's command subscription, as a
// hung process, a stop-the-world pause or a paused VM would: it is not dead, its connections stay
// open, and it answers nothing. Another process must take the subscription over and go on with the
// registrations; once the frozen process goes on (SIGCONT) it must not keep or share the lease, and
// every invariant holds.
func TestFrozenLeaseHolder(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	s.start()
	s.start()
	var subscribers []string
	for _, c := range contracts {
		for _, sc := range c.Subscribes {
			subscribers = append(subscribers, sc.SubscriberID)
		}
	}
	target := identity.CommandSubscriberID
	var holders map[string]int
	eventually(t, 20*time.Second, "every subscription leased", func() bool {
		holders = leaseHolders(t, s, subscribers)
		return len(holders) == len(subscribers)
	})
	time.Sleep(2 * time.Second) // the leases settle between the two
	holders = leaseHolders(t, s, subscribers)
	if holders[target] == 0 {
		t.Fatalf("%s not leased: %v", target, holders)
	}
	victim := s.processes()[holders[target]-1]
	var other *proc
	for _, p := range s.processes() {
		if p != victim {
			other = p
		}
	}
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 1, base: fixedBase(other)})
	time.Sleep(time.Second)
	if h := leaseHolders(t, s, subscribers)[target]; h != victim.n {
		t.Fatalf("%s moved from process %d to %d by itself", target, victim.n, h)
	}

	pid := victim.pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	eventually(t, 30*time.Second, "another process to take "+target+" over from the frozen one", func() bool {
		// The frozen process's sockets are still there: its backends keep showing up as its own.
		return leaseHolders(t, s, subscribers)[target] == other.n
	})
	t.Logf("process %d frozen holding %s; process %d took it over in %s", victim.n, target, other.n,
		time.Since(frozen).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // registrations go on through the taker
	thaw()
	time.Sleep(2 * time.Second)
	ld.finish()
	checkInvariants(t, s, l)
}
