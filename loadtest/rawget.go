package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// RawGetter is a lean GET client for the home load, as wrk is: one keep-alive connection that
// writes a fixed request and reads just the status line, the headers it needs (Content-Length,
// Transfer-Encoding, Connection, the session's Set-Cookie) and the body's bytes, without parsing
// it. The net/http client costs the driver about as much CPU as the program spends answering,
// and the driver runs on the program's cores.
//
// With cookies it keeps the session cookie it is given, as a browser does; without, every request
// arrives without one (a new visitor each time, like wrk).
type RawGetter struct {
	addr    string
	host    string
	method  string
	path    string
	extra   string // more header lines, each ending in CRLF
	cookies bool
	cookie  []byte // "vt_session=…" (name and value) or empty
	req     []byte
	conn    net.Conn
	r       *bufio.Reader
	scratch []byte
	trace   string // the X-Trace-Id of the last answer
}

// sessionCookieName is app.SessionCookieName.
const sessionCookieName = "vt_session"

// NewRawGetter returns a getter of base+path (base is http://host:port).
func NewRawGetter(base, path string, cookies bool) (*RawGetter, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("raw GET supports http only, not %q", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	g := &RawGetter{addr: addr, host: u.Host, method: "GET", path: path, cookies: cookies, scratch: make([]byte, 32<<10)}
	g.buildRequest()
	return g, nil
}

// NewRawPoster returns a client that POSTs an empty form to base+path with the session cookie
// (name=value) and the CSRF token it is given, keeping the cookie up to date when the answer renews
// it. Trace returns the X-Trace-Id of the last answer.
func NewRawPoster(base, path, cookie, csrfToken string) (*RawGetter, error) {
	g, err := NewRawGetter(base, path, true)
	if err != nil {
		return nil, err
	}
	g.method = "POST"
	g.cookie = []byte(cookie)
	g.extra = "X-CSRF-Token: " + csrfToken + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n"
	g.buildRequest()
	return g, nil
}

// Trace is the X-Trace-Id header of the last answer ("" if it had none).
func (g *RawGetter) Trace() string { return g.trace }

func (g *RawGetter) buildRequest() { g.req = fixedRequest(g.method, g.path, g.host, g.cookie, g.extra) }

// fixedRequest is the bytes of a request the lean clients send again and again: the request line, Host,
// the session cookie when there is one, the extra header lines (each ending in CRLF) and no body.
func fixedRequest(method, path, host string, cookie []byte, extra string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: vtload\r\nAccept: text/html\r\n", method, path, host)
	if len(cookie) > 0 {
		fmt.Fprintf(&b, "Cookie: %s\r\n", cookie)
	}
	b.WriteString(extra)
	b.WriteString("\r\n")
	return b.Bytes()
}

// Close drops the connection.
func (g *RawGetter) Close() {
	if g.conn != nil {
		g.conn.Close()
		g.conn = nil
	}
}

// Get sends the request and reads the answer; it returns the status and the body's length. A
// failed connection is dropped and the next Get dials again.
func (g *RawGetter) Get(ctx context.Context) (status, bodyLen int, err error) {
	if g.conn == nil {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := d.DialContext(dctx, "tcp", g.addr)
		cancel()
		if err != nil {
			return 0, 0, err
		}
		g.conn, g.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	_ = g.conn.SetDeadline(time.Now().Add(30 * time.Second))
	status, bodyLen, keep, err := g.roundTrip()
	if err != nil || !keep {
		g.Close()
	}
	return status, bodyLen, err
}

func (g *RawGetter) roundTrip() (status, bodyLen int, keep bool, err error) {
	if _, err := g.conn.Write(g.req); err != nil {
		return 0, 0, false, err
	}
	line, err := g.line()
	if err != nil {
		return 0, 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, 0, false, fmt.Errorf("bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, 0, false, fmt.Errorf("bad status line %q", line)
	}
	keep = line[7] == '1'
	contentLength, chunked := -1, false
	g.trace = ""
	for {
		line, err := g.line()
		if err != nil {
			return status, 0, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, 0, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if contentLength, err = strconv.Atoi(string(value)); err != nil || contentLength < 0 {
				return status, 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "Connection"):
			if asciiEqualFold(value, "close") {
				keep = false
			}
		case asciiEqualFold(name, "Set-Cookie") && g.cookies:
			g.keepCookie(value)
		case asciiEqualFold(name, "X-Trace-Id"):
			g.trace = string(value)
		}
	}
	switch {
	case chunked:
		bodyLen, err = g.readChunked()
	case contentLength >= 0:
		bodyLen, err = g.discard(contentLength)
	default: // the body ends with the connection
		n, err := io.CopyBuffer(io.Discard, g.r, g.scratch)
		return status, int(n), false, err
	}
	return status, bodyLen, keep && err == nil, err
}

// keepCookie takes the session cookie from a Set-Cookie value (Max-Age=0 deletes it).
func (g *RawGetter) keepCookie(v []byte) {
	if cookie, ok := sessionCookie(v); ok {
		g.cookie = cookie
		g.buildRequest()
	}
}

// sessionCookie reads a Set-Cookie value: ok when it is about the session cookie, and then the
// "name=value" to send from now on (nil when the answer deletes the cookie with Max-Age=0).
func sessionCookie(v []byte) (cookie []byte, ok bool) {
	pair, attrs, _ := bytes.Cut(v, []byte(";"))
	name, _, found := bytes.Cut(pair, []byte("="))
	if !found || string(bytes.TrimSpace(name)) != sessionCookieName {
		return nil, false
	}
	if bytes.Contains(attrs, []byte("Max-Age=0")) {
		return nil, true
	}
	return append([]byte(nil), bytes.TrimSpace(pair)...), true
}

// line reads one CRLF-terminated line, without the line end. The slice is valid until the next
// read.
func (g *RawGetter) line() ([]byte, error) {
	line, err := g.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("header line too long")
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func (g *RawGetter) discard(n int) (int, error) {
	d, err := g.r.Discard(n)
	return d, err
}

func (g *RawGetter) readChunked() (int, error) {
	total := 0
	for {
		line, err := g.line()
		if err != nil {
			return total, err
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			// Trailers, then the empty line.
			for {
				line, err := g.line()
				if err != nil {
					return total, err
				}
				if len(line) == 0 {
					return total, nil
				}
			}
		}
		n, err := g.discard(int(size))
		total += n
		if err != nil {
			return total, err
		}
		if line, err := g.line(); err != nil || len(line) != 0 {
			return total, fmt.Errorf("chunk not followed by CRLF")
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
