package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logOutput is where the program's log lines go: a writer that may hold them back for a short while.
//
// Why: under load the request log line is the only thing most requests write besides the response,
// and writing each line with a system call of its own cost about 5 % of a GET / (docs/BENCHMARKS.md,
// "Planning, position saves, log output"). With an interval, lines wait in memory for at most that
// long and then go out in one write. The price is that a process killed outright (SIGKILL, the OOM
// killer) loses the lines of its last interval; warnings and errors do not wait (levelFlush), nor
// does anything on a normal exit (main flushes). An interval of 0 writes every line at once.
type logOutput struct {
	w        io.Writer
	interval time.Duration

	mu      sync.Mutex
	buf     []byte
	pending bool // a flush is scheduled
	err     error
}

// maxHeldLog is how much may wait: more is written at once, so memory stays bounded under any load.
const maxHeldLog = 64 << 10

func newLogOutput(w io.Writer, interval time.Duration) *logOutput {
	return &logOutput{w: w, interval: interval}
}

// Write takes one log line (slog writes each record in one call).
func (o *logOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.interval <= 0 {
		return o.w.Write(p)
	}
	o.buf = append(o.buf, p...)
	if len(o.buf) >= maxHeldLog {
		o.flushLocked()
	} else if !o.pending {
		o.pending = true
		time.AfterFunc(o.interval, func() { _ = o.Flush() })
	}
	return len(p), nil
}

// Flush writes what is held.
func (o *logOutput) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
	o.pending = false
	return o.err
}

func (o *logOutput) flushLocked() {
	if len(o.buf) == 0 {
		return
	}
	_, err := o.w.Write(o.buf)
	if err != nil {
		o.err = err // a log that cannot be written has no better place to say so
	}
	o.buf = o.buf[:0]
	if cap(o.buf) > 4*maxHeldLog {
		o.buf = nil // a burst of long lines does not keep its buffer for ever
	}
}

// levelFlush writes warnings and errors (and everything before them) at once: those are the lines
// someone may be waiting for, and the ones that matter most if the process is about to die.
type levelFlush struct {
	slog.Handler
	out *logOutput
}

func (h levelFlush) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.out.Flush()
	}
	return err
}

func (h levelFlush) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFlush{h.Handler.WithAttrs(attrs), h.out}
}

func (h levelFlush) WithGroup(name string) slog.Handler {
	return levelFlush{h.Handler.WithGroup(name), h.out}
}
