package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// EpollClient is the leanest HTTP client of the driver, built as wrk is: a few threads, each one an
// event loop over its share of keep-alive connections (non-blocking sockets and epoll, no goroutine
// per connection). RawGetter does the same work per request through a goroutine per connection and
// Go's network poller, and on the program's two cores the difference is CPU and thread wake-ups the
// program does not get (docs/BENCHMARKS.md, "The driver"). Each connection writes its fixed request,
// reads the status line and headers, counts the body's bytes without keeping them, and writes the
// next request; it keeps the session cookie an answer sets. Answers must carry a Content-Length (the
// program's do); anything else counts as an error.
type EpollClient struct {
	threads int
	conns   []*epollConn
	once    sync.Once
	err     error
}

// epollConn is one connection: what it sends, what it expects, and where its current answer stands.
type epollConn struct {
	fd       int // -1 when closed
	addr     syscall.Sockaddr
	host     string
	method   string
	path     string
	extra    string // more header lines, each ending in CRLF
	cookies  bool   // keep the session cookie answers set
	cookie   []byte // "vt_session=…" or empty
	want     int    // the expected status
	needBody bool   // an empty body is an error
	// onAnswer is called (on the connection's loop thread) for every answer with the expected status,
	// warm-up included, with its X-Trace-Id; onLost for every request that got no answer.
	onAnswer func(trace string)
	onLost   func()

	req     []byte
	buf     []byte // the header block being read; the body is read over it and not kept
	n       int    // bytes of the header block in buf
	inBody  bool
	left    int  // body bytes still to come
	busy    bool // a request is out
	started time.Time
	trace   string
}

// badAnswer is an answer that arrived but was not the expected one (the request is not lost).
type badAnswer struct{ error }

// NewEpollGetter returns a client that GETs path from every base URL (http://host:port), with conns
// connections spread over threads event loops (0: one per CPU); with cookies it keeps its session.
func NewEpollGetter(bases []string, path string, conns, threads int, cookies bool) (*EpollClient, error) {
	g := &EpollClient{threads: threads}
	for i := range conns {
		c, err := newEpollConn(bases[i%len(bases)], "GET", path)
		if err != nil {
			return nil, err
		}
		c.cookies, c.want, c.needBody = cookies, 200, true
		g.conns = append(g.conns, c)
	}
	g.setThreads()
	return g, nil
}

// NewEpollPoster returns a client whose connections record the viewers' viewings (one connection
// each), with the session cookie and CSRF token each viewer's home page gave it, as Viewer.Op does:
// every 303 appends its trace id to the viewer's Traces, every request without an answer counts in
// its Unknown.
func NewEpollPoster(vs []*Viewer, threads int) (*EpollClient, error) {
	g := &EpollClient{threads: threads}
	for _, v := range vs {
		cookie, err := v.sessionCookie()
		if err != nil {
			return nil, err
		}
		c, err := newEpollConn(v.Client.Base, "POST", "/record-viewing/"+v.VideoID)
		if err != nil {
			return nil, err
		}
		c.cookies, c.cookie, c.want = true, []byte(cookie), 303
		c.extra = "X-CSRF-Token: " + v.Client.Token + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n"
		c.onAnswer = func(trace string) { v.Traces = append(v.Traces, trace) }
		c.onLost = func() { v.Unknown++ }
		c.buildRequest()
		g.conns = append(g.conns, c)
	}
	g.setThreads()
	return g, nil
}

func (g *EpollClient) setThreads() {
	if g.threads <= 0 {
		g.threads = runtime.NumCPU()
	}
	g.threads = max(1, min(g.threads, len(g.conns)))
}

func newEpollConn(base, method, path string) (*epollConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("the epoll client supports http only, not %q", u.Scheme)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ta, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, err
	}
	var sa syscall.Sockaddr
	if ip4 := ta.IP.To4(); ip4 != nil {
		a := &syscall.SockaddrInet4{Port: ta.Port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		a := &syscall.SockaddrInet6{Port: ta.Port}
		copy(a.Addr[:], ta.IP.To16())
		sa = a
	}
	c := &epollConn{fd: -1, addr: sa, host: u.Host, method: method, path: path}
	c.buildRequest()
	return c, nil
}

const epollBufSize = 64 << 10

func (c *epollConn) buildRequest() { c.req = fixedRequest(c.method, c.path, c.host, c.cookie, c.extra) }

// dial opens c's socket: a blocking connect (once per connection, outside the measured path), then
// non-blocking for the event loop.
func (c *epollConn) dial() error {
	family := syscall.AF_INET
	if _, ok := c.addr.(*syscall.SockaddrInet6); ok {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := syscall.Connect(fd, c.addr); err != nil {
		syscall.Close(fd)
		return err
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return err
	}
	c.fd = fd
	return nil
}

// close closes the socket; lost says whether a request that was out got no answer.
func (c *epollConn) close(lost bool) {
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
	if c.busy && lost && c.onLost != nil {
		c.onLost()
	}
	c.busy, c.n, c.inBody, c.left = false, 0, false, 0
}

// send writes the request. It is small and the socket's buffer empty (one request at a time), so a
// short write means the connection is broken.
func (c *epollConn) send() error {
	for {
		n, err := rawWrite(c.fd, c.req)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n != len(c.req) {
			return fmt.Errorf("short write (%d of %d bytes)", n, len(c.req))
		}
		c.busy, c.started, c.n, c.inBody = true, time.Now(), 0, false
		return nil
	}
}

// loopStats is what one event loop counted in the measured window.
type loopStats struct {
	ok, errs int64
	firstErr string
	lats     Latencies
}

func (s *loopStats) fail(err error) {
	s.errs++
	if s.firstErr == "" {
		s.firstErr = err.Error()
	}
}

// Run drives the connections for warmup, then for d (the measured window), like Load: closed loop,
// latencies of the measured window only; answers in flight at the end are read to their end.
func (g *EpollClient) Run(ctx context.Context, name string, warmup, d time.Duration, sampler *Sampler) LoadResult {
	g.once.Do(func() {
		for _, c := range g.conns {
			c.buf = make([]byte, epollBufSize)
			if err := c.dial(); err != nil {
				g.err = fmt.Errorf("connect: %w", err)
				return
			}
		}
	})
	r := LoadResult{Name: name, Conns: len(g.conns)}
	if g.err != nil {
		r.Errors, r.FirstErr = 1, g.err.Error()
		return r
	}
	if p := runtime.GOMAXPROCS(0); p < g.threads+2 {
		runtime.GOMAXPROCS(g.threads + 2) // see rawEpollWait
	}
	var measuring, stopping atomic.Bool
	stats := make([]loopStats, g.threads)
	var wg sync.WaitGroup
	for t := range g.threads {
		var mine []*epollConn
		for i := t; i < len(g.conns); i += g.threads {
			mine = append(mine, g.conns[i])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.loop(ctx, mine, &measuring, &stopping, &stats[t])
		}()
	}
	sleep(ctx, warmup)
	if sampler != nil {
		sampler.Start()
	}
	start := time.Now()
	measuring.Store(true)
	sleep(ctx, d)
	measuring.Store(false)
	r.Duration = time.Since(start)
	stopping.Store(true)
	if sampler != nil {
		r.Usage = sampler.Stop()
	}
	wg.Wait()
	for _, s := range stats {
		r.OK += s.ok
		r.Errors += s.errs
		if r.FirstErr == "" {
			r.FirstErr = s.firstErr
		}
		r.Latencies = append(r.Latencies, s.lats...)
	}
	return r
}

// loop is one event loop on its own thread.
func (g *EpollClient) loop(ctx context.Context, conns []*epollConn, measuring, stopping *atomic.Bool, st *loopStats) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		st.fail(err)
		return
	}
	defer syscall.Close(epfd)
	byFD := map[int32]*epollConn{}
	watch := func(c *epollConn) error {
		byFD[int32(c.fd)] = c
		return syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, c.fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.fd)})
	}
	// broken drops a connection after an error and dials it again for the next request.
	broken := func(c *epollConn, err error) {
		if measuring.Load() {
			st.fail(err)
		}
		delete(byFD, int32(c.fd))
		var answered badAnswer
		c.close(!errors.As(err, &answered))
		if stopping.Load() || ctx.Err() != nil {
			return
		}
		if err := c.dial(); err != nil {
			st.fail(err)
			return
		}
		if err := watch(c); err != nil {
			st.fail(err)
			c.close(false)
			return
		}
		if err := c.send(); err != nil {
			st.fail(err)
		}
	}
	for _, c := range conns {
		if c.fd < 0 {
			if err := c.dial(); err != nil {
				st.fail(err)
				continue
			}
		}
		if err := watch(c); err != nil {
			st.fail(err)
			continue
		}
		if err := c.send(); err != nil {
			broken(c, err)
		}
	}
	// The sockets stay open between runs (rounds of a comparison); only this loop's epoll set goes.
	defer func() {
		for _, c := range conns {
			if c.fd >= 0 {
				_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
			}
		}
	}()
	events := make([]syscall.EpollEvent, len(conns))
	var drainUntil time.Time
	for {
		if stopping.Load() || ctx.Err() != nil {
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(5 * time.Second)
			}
			busy := false
			for _, c := range conns {
				busy = busy || c.busy
			}
			if !busy || time.Now().After(drainUntil) {
				for _, c := range conns {
					if c.busy { // never answered: the connection cannot be reused
						c.close(true)
					}
				}
				return
			}
		}
		n, err := rawEpollWait(epfd, events, 100)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			st.fail(err)
			return
		}
		for _, ev := range events[:n] {
			c := byFD[ev.Fd]
			if c == nil {
				continue
			}
			done, err := g.readAnswer(c)
			if err != nil {
				broken(c, err)
				continue
			}
			if !done {
				continue
			}
			c.busy = false
			if c.onAnswer != nil {
				c.onAnswer(c.trace)
			}
			if measuring.Load() {
				st.ok++
				st.lats = append(st.lats, time.Since(c.started))
			}
			if stopping.Load() || ctx.Err() != nil {
				continue
			}
			if err := c.send(); err != nil {
				broken(c, err)
			}
		}
	}
}

// readAnswer reads what the socket has and reports whether the answer is complete.
func (g *EpollClient) readAnswer(c *epollConn) (done bool, err error) {
	for {
		var buf []byte
		if c.inBody {
			buf = c.buf[:min(len(c.buf), c.left)]
		} else {
			buf = c.buf[c.n:]
			if len(buf) == 0 {
				return false, errors.New("header block larger than 64 KiB")
			}
		}
		k, err := rawRead(c.fd, buf)
		switch {
		case err == syscall.EAGAIN:
			return false, nil
		case err == syscall.EINTR:
			continue
		case err != nil:
			return false, err
		case k == 0:
			return false, errors.New("connection closed by the server")
		case !c.busy:
			return false, errors.New("bytes arrived with no request out")
		}
		if c.inBody {
			c.left -= k
			return c.left == 0, nil // level-triggered: epoll reports the rest
		}
		c.n += k
		end := bytes.Index(c.buf[:c.n], []byte("\r\n\r\n"))
		if end < 0 {
			return false, nil
		}
		length, err := g.headers(c, c.buf[:end+2])
		if err != nil {
			return false, err
		}
		extra := c.n - (end + 4) // body bytes that came with the headers
		switch {
		case extra > length:
			return false, errors.New("more bytes than the answer's Content-Length")
		case extra == length:
			return true, nil
		}
		c.inBody, c.left = true, length-extra
		return false, nil
	}
}

// headers checks the status line and headers (each line ends in CRLF) and returns the Content-Length.
// It keeps a session cookie the answer sets (when the connection keeps cookies) and the trace id.
func (g *EpollClient) headers(c *epollConn, block []byte) (int, error) {
	line, rest, _ := bytes.Cut(block, []byte("\r\n"))
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	if status, err := strconv.Atoi(string(line[9:12])); err != nil || status != c.want {
		return 0, badAnswer{fmt.Errorf("%s %s: status %s", c.method, c.path, line[9:12])}
	}
	length := -1
	c.trace = ""
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			v, err := strconv.Atoi(string(value))
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
			length = v
		case asciiEqualFold(name, "Transfer-Encoding"):
			return 0, badAnswer{fmt.Errorf("Transfer-Encoding %q: the epoll client reads Content-Length answers only (use -get raw)", value)}
		case asciiEqualFold(name, "Connection") && asciiEqualFold(value, "close"):
			return 0, badAnswer{errors.New("the server closes the connection (Connection: close)")}
		case asciiEqualFold(name, "Set-Cookie") && c.cookies:
			if cookie, ok := sessionCookie(value); ok {
				c.cookie = cookie
				c.buildRequest()
			}
		case asciiEqualFold(name, "X-Trace-Id") && c.onAnswer != nil:
			c.trace = string(value)
		}
	}
	if length < 0 {
		return 0, badAnswer{errors.New("an answer without Content-Length (the epoll client needs one; use -get raw)")}
	}
	if length == 0 && c.needBody {
		return 0, badAnswer{fmt.Errorf("%s %s: empty body", c.method, c.path)}
	}
	return length, nil
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket. They never block, so they
// skip the scheduler's bookkeeping for system calls that might (syscall.Read and syscall.Write tell
// it about every call).
func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// rawEpollWait is epoll_wait(2) without telling the scheduler that the thread may block. Through
// syscall.EpollWait, every wait longer than 20 µs lets the runtime hand the thread's P to another
// thread and take one back afterwards: thread wake-ups on the cores the measured program needs, for
// every answer. Run raises GOMAXPROCS so that the event loops holding their Ps while they wait leave
// Ps for the rest of the driver; a garbage collection waits at most one timeout for them.
func rawEpollWait(epfd int, events []syscall.EpollEvent, msec int) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))),
		uintptr(len(events)), uintptr(msec), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
