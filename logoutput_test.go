package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records each Write the log output makes.
type writes struct {
	mu    sync.Mutex
	calls []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

func (w *writes) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.calls...)
}

func TestLogOutputWithoutIntervalWritesEachLine(t *testing.T) {
	var w writes
	log := newLogger(Config{LogLevel: "info", LogFormat: "text"}, newLogOutput(&w, 0))
	log.Info("one")
	log.Info("two")
	if got := w.snapshot(); len(got) != 2 || !strings.Contains(got[0], "msg=one") || !strings.Contains(got[1], "msg=two") {
		t.Fatalf("writes = %q, want one per line", got)
	}
}

func TestLogOutputHoldsInfoLinesAndWritesThemTogether(t *testing.T) {
	var w writes
	out := newLogOutput(&w, time.Hour) // only an explicit flush writes
	log := newLogger(Config{LogLevel: "info", LogFormat: "json"}, out)
	log.Info("one")
	log.Info("two")
	if got := w.snapshot(); len(got) != 0 {
		t.Fatalf("written before the interval: %q", got)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	got := w.snapshot()
	if len(got) != 1 || strings.Count(got[0], "\n") != 2 || !strings.Contains(got[0], `"msg":"one"`) ||
		strings.Index(got[0], `"msg":"one"`) > strings.Index(got[0], `"msg":"two"`) {
		t.Fatalf("writes = %q, want both lines, in order, in one write", got)
	}
}

func TestLogOutputWritesWithinTheInterval(t *testing.T) {
	var w writes
	log := newLogger(Config{LogLevel: "info", LogFormat: "text"}, newLogOutput(&w, 10*time.Millisecond))
	log.Info("soon")
	deadline := time.Now().Add(10 * time.Second)
	for len(w.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held line was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	log.Info("again") // a new line after a flush schedules a new one
	for len(w.snapshot()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the second held line was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogOutputWritesWarningsAtOnceAfterWhatCameBefore(t *testing.T) {
	var w writes
	log := newLogger(Config{LogLevel: "info", LogFormat: "text"}, newLogOutput(&w, time.Hour))
	log.With("component", "x").Info("before")
	log.With("component", "x").Warn("trouble")
	got := w.snapshot()
	if len(got) != 1 || !strings.Contains(got[0], "msg=before") || !strings.Contains(got[0], "msg=trouble") {
		t.Fatalf("writes = %q, want the info line and the warning written at once", got)
	}
	log.Error("worse")
	if got := w.snapshot(); len(got) != 2 || !strings.Contains(got[1], "msg=worse") {
		t.Fatalf("writes = %q, want the error written at once", got)
	}
}

func TestLogOutputBoundsWhatItHolds(t *testing.T) {
	var w writes
	out := newLogOutput(&w, time.Hour)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 2 * maxHeldLog / len(line) {
		if _, err := out.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	got := w.snapshot()
	if len(got) == 0 {
		t.Fatal("nothing written although twice the bound was logged")
	}
	for _, c := range got {
		if len(c) > maxHeldLog+len(line) {
			t.Fatalf("one write of %d bytes: more than the bound was held", len(c))
		}
	}
	_ = out.Flush()
	var all bytes.Buffer
	for _, c := range w.snapshot() {
		all.WriteString(c)
	}
	if all.Len() != 2*maxHeldLog/len(line)*len(line) {
		t.Fatalf("%d bytes written, want every line", all.Len())
	}
}

var _ slog.Handler = levelFlush{}
