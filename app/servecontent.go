package app

import (
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// ServeContent is http.ServeContent (Range, If-Range, conditional requests, HEAD) for the request,
// except that a range it cannot satisfy (past the end of content, or one that does not parse) is
// returned as a 416 error with msg, so that the shell answers it with the error page every other
// refusal of the site gets: ServeContent writes one line of text/plain. The Content-Range it sets for
// the refusal (the content's length) stays.
func ServeContent(c echo.Context, r *http.Request, name string, modtime time.Time, content io.ReadSeeker, msg string) error {
	res := c.Response()
	w := &rangeRefusal{ResponseWriter: res}
	http.ServeContent(w, r, name, modtime, content)
	if w.refused {
		res.Header().Del(echo.HeaderContentType) // the error page's own, not the content's or ServeContent's text
		return NewError(http.StatusRequestedRangeNotSatisfiable, msg)
	}
	return nil
}

// rangeRefusal passes a ServeContent answer through, except a 416, whose status and text it keeps
// from the client.
type rangeRefusal struct {
	http.ResponseWriter
	refused bool
}

func (w *rangeRefusal) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable {
		w.refused = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rangeRefusal) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection under the answer.
func (w *rangeRefusal) Unwrap() http.ResponseWriter { return w.ResponseWriter }
