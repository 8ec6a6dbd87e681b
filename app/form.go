package app

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// msgUnreadableForm is the 400 of a form body that cannot be read.
const msgUnreadableForm = "The form could not be read."

// FormParams returns the request's form, URL-encoded or multipart, with the errors in the shell's
// vocabulary: a body over the limit stays the *http.MaxBytesError answered with 413, and any other body
// that cannot be read as a form (a broken escape, a multipart body cut short or without a boundary) is
// a 400 — the client's mistake. Echo's c.FormParams returns such errors bare, which would be a 500, and
// c.FormValue drops them, which would pass an empty field on. The CSRF check reads a URL-encoded body
// only when the token is not in the header, so handlers cannot count on it having been read.
func FormParams(c echo.Context) (url.Values, error) {
	form, err := c.FormParams()
	if err == nil {
		return form, nil
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, err
	}
	return nil, &Error{Status: http.StatusBadRequest, Message: msgUnreadableForm, Err: err}
}
