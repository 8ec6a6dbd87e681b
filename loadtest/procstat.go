package loadtest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on every Linux
// architecture Go supports).
const clockTicks = 100

// procSample is one reading of a process (and optionally its descendants).
type procSample struct {
	ticks int64 // utime+stime
	rss   int64 // bytes
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// The command name is in parentheses and may contain spaces: fields start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// f[0] is field 3 (state): utime is field 14, stime 15, rss (pages) 24.
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	rssPages, _ := strconv.ParseInt(f[21], 10, 64)
	return procSample{ticks: ut + st, rss: rssPages * int64(os.Getpagesize())}, nil
}

// pss is the proportional set size of pid in bytes (0 when unknown).
func pss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// descendants returns pid and every process below it (for PostgreSQL: the postmaster and its
// backends).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// Watched is a process whose CPU and memory are reported.
type Watched struct {
	Name string
	Pid  int
	// Tree includes every descendant (CPU and RSS summed), e.g. a PostgreSQL server.
	Tree bool
}

// Usage is what a sampler saw of one watched process over a measurement window.
type Usage struct {
	Name          string
	CPUPercent    float64 // of one core, averaged over the window
	RSSMax        int64   // bytes, largest sample (RSS of a process; PSS summed over a tree)
	RSSMean       int64
	RSSStart      int64
	samples, sumR int64
}

func (u Usage) String() string {
	return fmt.Sprintf("%s: CPU %.0f%% of a core, memory max %.1f MB (mean %.1f, before %.1f)",
		u.Name, u.CPUPercent, mb(u.RSSMax), mb(u.RSSMean), mb(u.RSSStart))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// Sampler samples watched processes every interval between Start and Stop.
//
// A tree's memory (the PSS of every PostgreSQL backend) is read only every treeEvery-th interval: the
// kernel walks each backend's page tables, shared buffers included, to answer smaps_rollup, and at
// four readings a second that cost about a tenth of the machine's CPU under the POST load (perf), CPU
// taken from the very processes being measured. CPU time needs no sampling: it is the difference of
// two readings, at Start and at Stop.
type Sampler struct {
	procs    []Watched
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	usage    []Usage
	t0       time.Time
	ticks0   []int64
	n        int // samples taken since Start
}

// treeEvery is how many intervals pass between two readings of a tree's memory.
const treeEvery = 8

// NewSampler returns a sampler of procs.
func NewSampler(procs []Watched, interval time.Duration) *Sampler {
	return &Sampler{procs: procs, interval: interval}
}

func (s *Sampler) read(w Watched) procSample {
	if !w.Tree {
		p, _ := readProc(w.Pid)
		return p
	}
	// Backends share PostgreSQL's shared buffers: summing their RSS would count them once per
	// backend, so a tree's memory is the sum of proportional set sizes (PSS).
	var sum procSample
	for _, pid := range descendants(w.Pid) {
		p, err := readProc(pid)
		if err == nil {
			sum.ticks += p.ticks
			sum.rss += pss(pid)
		}
	}
	return sum
}

// Start begins a measurement window.
func (s *Sampler) Start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.usage = make([]Usage, len(s.procs))
	s.ticks0 = make([]int64, len(s.procs))
	for i, w := range s.procs {
		p := s.read(w)
		s.usage[i] = Usage{Name: w.Name, RSSStart: p.rss}
		s.ticks0[i] = p.ticks
	}
	s.t0 = time.Now()
	s.n = 0
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
}

func (s *Sampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	for i, w := range s.procs {
		if w.Tree && s.n%treeEvery != 0 {
			continue
		}
		p := s.read(w)
		u := &s.usage[i]
		u.RSSMax = max(u.RSSMax, p.rss)
		u.samples++
		u.sumR += p.rss
	}
}

// Stop ends the window and returns each process's usage.
func (s *Sampler) Stop() []Usage {
	if s.stop == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	s.n = treeEvery - 1 // the last sample reads every process, trees included
	s.sample()
	wall := time.Since(s.t0).Seconds()
	out := make([]Usage, len(s.procs))
	for i, w := range s.procs {
		p := s.read(w)
		u := s.usage[i]
		u.CPUPercent = float64(p.ticks-s.ticks0[i]) / clockTicks / wall * 100
		if u.samples > 0 {
			u.RSSMean = u.sumR / u.samples
		}
		out[i] = u
	}
	s.stop = nil
	return out
}
