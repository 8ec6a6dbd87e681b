package loadtest

import (
	"os"
	"testing"
	"time"
)

// A tree's memory is read every treeEvery-th interval (and at the end), a single process's at every
// interval; both end up with a reading.
func TestSamplerReadsTreesLessOften(t *testing.T) {
	self := os.Getpid()
	s := NewSampler([]Watched{{Name: "process", Pid: self}, {Name: "tree", Pid: self, Tree: true}}, 5*time.Millisecond)
	s.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := s.n
		s.mu.Unlock()
		if n >= 4*treeEvery || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	proc, tree := s.usage[0].samples, s.usage[1].samples
	s.mu.Unlock()
	if proc < 4*treeEvery || tree < 3 || tree > proc/treeEvery+1 {
		t.Fatalf("samples: process %d, tree %d; want every interval for the process, every %dth for the tree", proc, tree, treeEvery)
	}
	u := s.Stop()
	if len(u) != 2 || u[0].RSSMax <= 0 || u[1].RSSMax <= 0 || u[0].CPUPercent < 0 {
		t.Fatalf("usage %+v: want memory readings for both", u)
	}
}
