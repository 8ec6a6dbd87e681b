package live

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// StreamOptions tune Stream; zero values mean the defaults.
type StreamOptions struct {
	// Heartbeat is the interval of keep-alive comments. Default 15s: below
	// the idle timeouts of common proxies and load balancers.
	Heartbeat time.Duration
	// Retry is the reconnect delay suggested to the browser. Default 3s.
	Retry time.Duration
	// WriteTimeout bounds each write, so a client that stopped reading
	// (but did not close) cannot hold the handler forever. Default 10s.
	WriteTimeout time.Duration
	// Stop, when closed, ends the stream (graceful server shutdown).
	Stop <-chan struct{}
	// Valid, when set, is asked before each event is written and at each
	// heartbeat; when it reports false the stream ends without writing
	// more (app.LiveStream: the session that opened it was logged out).
	// Asking at heartbeats, not more often, bounds what an idle stream
	// costs its check.
	Valid func() bool
}

// ErrNoFlush is returned when the ResponseWriter cannot flush, i.e. events
// would sit in a buffer instead of reaching the browser.
var ErrNoFlush = errors.New("live: response writer does not support flushing")

// Stream writes sub to w as a server-sent event stream until the client goes
// away (r's context ends), opts.Stop closes, opts.Valid reports false or the
// subscription ends. It
// always closes sub. It returns nil in all those cases, including when the
// client disconnects mid-write: that is how streams normally end. A lagged
// subscription ends with a "reload" event so the page catches up.
func Stream(w http.ResponseWriter, r *http.Request, sub *Subscription, opts StreamOptions) error {
	defer sub.Close()
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 15 * time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = 3 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}

	rc := http.NewResponseController(w)
	// The server's WriteTimeout runs from the start of the request and would
	// cut the stream; per-write deadlines below replace it. The read
	// deadline is cleared too, so a ReadTimeout can never end a stream
	// (net/http already clears it for HTTP/1 requests without a body; this
	// keeps it true for other cases). ErrNotSupported (test recorders)
	// means there is nothing to extend.
	_ = rc.SetReadDeadline(time.Time{})
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }()

	writeHead(w)

	bw := bufio.NewWriter(w)
	send := func(write func()) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(opts.WriteTimeout))
		write()
		if err := bw.Flush(); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	// The retry hint and a first comment go out at once, so the browser sees
	// the stream open (and proxies see bytes) before the first event.
	if !send(func() { fmt.Fprintf(bw, "retry: %d\n: connected\n\n", opts.Retry.Milliseconds()) }) {
		if err := rc.Flush(); errors.Is(err, http.ErrNotSupported) {
			return ErrNoFlush
		}
		return nil
	}

	valid := func() bool { return opts.Valid == nil || opts.Valid() }
	heartbeat := time.NewTicker(opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-opts.Stop:
			return nil
		case ev, ok := <-sub.Events():
			if !ok {
				if sub.Lagged() {
					send(func() { writeEvent(bw, "reload", "lagged") })
				}
				return nil
			}
			if !valid() || !send(func() { writeEvent(bw, ev.Name, ev.Data) }) {
				return nil
			}
		case <-heartbeat.C:
			if !valid() || !send(func() { bw.WriteString(": heartbeat\n\n") }) {
				return nil
			}
		}
	}
}

// writeEvent writes one SSE event. Every line of data becomes its own data:
// field (SSE treats CR, LF and CRLF as line ends), so data can never inject
// fields or events; the browser joins the lines back with "\n".
func writeEvent(bw *bufio.Writer, name, data string) {
	bw.WriteString("event: ")
	bw.WriteString(name)
	bw.WriteByte('\n')
	data = strings.ReplaceAll(data, "\r\n", "\n")
	data = strings.ReplaceAll(data, "\r", "\n")
	for line := range strings.SplitSeq(data, "\n") {
		bw.WriteString("data: ")
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	bw.WriteByte('\n')
}

// Head answers a HEAD request for a stream: the headers a GET gets, and no stream (one with nowhere to
// write would never end).
func Head(w http.ResponseWriter) { writeHead(w) }

// writeHead writes a stream's status and headers.
func writeHead(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
}
