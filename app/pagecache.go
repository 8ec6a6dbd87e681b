package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"videotutorials/templates"
)

// AnonymousPage is a page rendered once for anonymous visitors, with holes
// where the values that differ between requests go: the CSRF token and the
// trace id. A page that reads a lot and changes rarely (the home page) renders
// it once per version of its data and serves it with RenderAnonymous, which
// fills the holes for the request; signed-in visitors, whose header shows
// their email and a log-out form, still get a page rendered for them.
//
// The holes are found by rendering the page with placeholders: random strings
// made when the process starts, which never leave it, so no content of a page
// (a video's name, say) can pose as one. Compiling fails when a placeholder
// shows up altered (escaped, cut, in another case), so a template that does
// something unexpected with the token is rendered per request instead of
// served wrong.
type AnonymousPage struct {
	path string
	// chunks[0] hole[0] chunks[1] hole[1] … chunks[n]
	chunks [][]byte
	holes  []pageHole
	size   int // bytes of the chunks
	// contentLength is the Content-Length header of the page with a token
	// and a trace id of the usual lengths.
	contentLength []string
}

type pageHole uint8

const (
	holeCSRFToken pageHole = iota
	holeTraceID
)

var (
	placeholdersOnce sync.Once
	// placeholderParts are random hex strings: the CSRF placeholder is the
	// first two joined by a slash, the trace id placeholder the last two.
	placeholderParts [4]string
)

// placeholders returns the CSRF token's and the trace id's placeholder and
// the random parts they are made of. The slash in each changes under URL
// escaping, and hex changes under a change of case, so an altered placeholder
// leaves a part behind that compiling can find.
func placeholders() (csrf, trace string, parts [4]string) {
	placeholdersOnce.Do(func() {
		for i := range placeholderParts {
			var b [12]byte
			if _, err := rand.Read(b[:]); err != nil {
				panic("app: reading random bytes: " + err.Error())
			}
			placeholderParts[i] = hex.EncodeToString(b[:])
		}
	})
	p := placeholderParts
	return p[0] + "/" + p[1], p[2] + "/" + p[3], p
}

// CompileAnonymousPage renders the component page returns for an anonymous
// visitor of path (the Page PageFor would give with title, nobody signed in)
// and cuts it at the CSRF token and the trace id. The component must depend
// on nothing but its arguments and data fixed at this call: everything else in
// it is served to every anonymous visitor.
func CompileAnonymousPage(title, path string, page func(templates.Page) templ.Component) (*AnonymousPage, error) {
	csrf, trace, parts := placeholders()
	var buf bytes.Buffer
	p := templates.Page{Title: title, Path: path, CSRFToken: csrf, TraceID: trace}
	if err := page(p).Render(context.Background(), &buf); err != nil {
		return nil, fmt.Errorf("app: rendering anonymous page: %w", err)
	}
	out := &AnonymousPage{path: path}
	rest := buf.Bytes()
	for {
		ci, ti := bytes.Index(rest, []byte(csrf)), bytes.Index(rest, []byte(trace))
		if ci < 0 && ti < 0 {
			break
		}
		i, n, hole := ci, len(csrf), holeCSRFToken
		if ci < 0 || (ti >= 0 && ti < ci) {
			i, n, hole = ti, len(trace), holeTraceID
		}
		out.chunks = append(out.chunks, bytes.Clone(rest[:i]))
		out.holes = append(out.holes, hole)
		rest = rest[i+n:]
	}
	out.chunks = append(out.chunks, bytes.Clone(rest))
	for _, ch := range out.chunks {
		lower := bytes.ToLower(ch)
		for _, part := range parts {
			if bytes.Contains(lower, []byte(part)) {
				return nil, fmt.Errorf("app: anonymous page %q shows the CSRF token or the trace id altered; render it per request", path)
			}
		}
		out.size += len(ch)
	}
	out.contentLength = []string{strconv.Itoa(out.filledSize(csrfTokenLen, traceIDLen))}
	return out, nil
}

// RenderAnonymous serves the compiled page with this request's CSRF token
// (creating an anonymous session for it when the page has a form, as
// PageFor does) and trace id, with
// status. It serves only anonymous visitors of the page's path: for a
// signed-in visitor (or another path) it writes nothing and returns false, and
// the caller renders the page for them.
func RenderAnonymous(c echo.Context, status int, p *AnonymousPage) (bool, error) {
	if p == nil || c.Request().URL.Path != p.path {
		return false, nil
	}
	if _, signedIn := CurrentUserID(c); signedIn {
		return false, nil
	}
	var token string
	for _, h := range p.holes {
		if h == holeCSRFToken {
			token = htmlSafe(CSRFToken(c))
			break
		}
	}
	trace := htmlSafe(TraceID(c))
	size := p.filledSize(len(token), len(trace))
	bp := getPageBuffer()
	defer putPageBuffer(bp)
	b := (*bp)[:0]
	if cap(b) < size {
		b = make([]byte, 0, size)
	}
	for i, h := range p.holes {
		b = append(b, p.chunks[i]...)
		if h == holeCSRFToken {
			b = append(b, token...)
		} else {
			b = append(b, trace...)
		}
	}
	b = append(b, p.chunks[len(p.chunks)-1]...)
	*bp = b
	var contentLength []string // made by writeHTML
	if len(b) == p.filledSize(csrfTokenLen, traceIDLen) {
		contentLength = p.contentLength
	}
	return true, writeHTML(c, status, b, contentLength)
}

// traceIDLen is the length of a trace id (a UUID).
const traceIDLen = 36

// filledSize is the page's length with holes filled by values of these lengths.
func (p *AnonymousPage) filledSize(tokenLen, traceLen int) int {
	n := p.size
	for _, h := range p.holes {
		if h == holeCSRFToken {
			n += tokenLen
		} else {
			n += traceLen
		}
	}
	return n
}

// htmlSafe escapes s for HTML text and attribute values. Tokens and trace ids
// never need it (base64url, hex and dashes); it only keeps the page correct
// should that change.
func htmlSafe(s string) string {
	if strings.ContainsAny(s, `&<>"'`) {
		return html.EscapeString(s)
	}
	return s
}

// writeHTML writes body as the HTML response, with its length
// (contentLength, when the caller has the header's value at hand) and, unless
// the handler set one, the Cache-Control of a per-session page: shared caches
// must not store it, and browsers must revalidate.
func writeHTML(c echo.Context, status int, body []byte, contentLength []string) error {
	h := c.Response().Header()
	if h.Get(echo.HeaderCacheControl) == "" {
		h[echo.HeaderCacheControl] = privateNoCache
	}
	if h.Get(echo.HeaderContentType) == "" {
		h[echo.HeaderContentType] = htmlContentType
	}
	if contentLength == nil {
		contentLength = []string{strconv.Itoa(len(body))}
	}
	h[echo.HeaderContentLength] = contentLength
	res := c.Response()
	res.WriteHeader(status)
	_, err := res.Write(body)
	return err
}

var (
	privateNoCache  = []string{"private, no-cache"}
	htmlContentType = []string{echo.MIMETextHTMLCharsetUTF8}
)

// Page buffers are reused; net/http copies what it is given, so a buffer is
// free again when Write returns. Unusually large ones are not kept.
const maxPooledPage = 256 << 10

var pageBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getPageBuffer() *[]byte { return pageBuffers.Get().(*[]byte) }

func putPageBuffer(b *[]byte) {
	if cap(*b) <= maxPooledPage {
		*b = (*b)[:0]
		pageBuffers.Put(b)
	}
}
