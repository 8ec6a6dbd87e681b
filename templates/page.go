package templates

import "net/http"

// Page is the view model of the layout: everything the frame around a page
// needs to know about the request. Applications get one from app.PageFor(c,
// title) instead of filling it by hand, so that the navigation, the CSRF token
// and the trace id are always right.
type Page struct {
	// Title is the page's own title; the layout appends the site name.
	Title string
	// Path is the request path, used to mark the current navigation entry.
	Path string
	// UserID is the signed-in user's id, empty for anonymous visitors.
	UserID string
	// UserEmail is shown in the header when known (it may be empty even for a
	// signed-in user, e.g. while the credentials view catches up).
	UserEmail string
	// IsAdmin shows the Admin navigation entry.
	IsAdmin bool
	// CSRFToken must be put into every POST form with CSRFField.
	CSRFToken string
	// TraceID identifies the request in logs and in the message store metadata;
	// error pages show it as a reference for support.
	TraceID string
	// Notice is a status line under an admin page's heading: what the form that redirected here did
	// (a retry request leaves the page looking as it did, so without it the click seems lost).
	Notice string
}

// SignedIn reports whether the page is rendered for a signed-in user.
func (p Page) SignedIn() bool { return p.UserID != "" }

// navCurrent returns "page" when href is the current section, for
// aria-current. Home matches only "/" exactly; other entries match their whole
// subtree so that /creators-portal/videos/… still highlights Creators Portal.
func (p Page) navCurrent(href string) string {
	if href == "/" {
		if p.Path == "/" {
			return "page"
		}
		return ""
	}
	trimmed := href
	if len(trimmed) > 1 && trimmed[len(trimmed)-1] == '/' {
		trimmed = trimmed[:len(trimmed)-1]
	}
	if p.Path == trimmed || (len(p.Path) > len(trimmed) && p.Path[:len(trimmed)] == trimmed && p.Path[len(trimmed)] == '/') {
		return "page"
	}
	return ""
}

// CSRFFieldName is the name of the hidden form field that carries the CSRF
// token. Package app reads the same constant, so the two cannot drift apart.
const CSRFFieldName = "_csrf"

// ErrorInfo describes an error page: the HTTP status and an optional message
// for the user. The message must be safe to show (never an internal error text).
type ErrorInfo struct {
	Status  int
	Message string
}

// Heading is the page's main heading for the status.
func (e ErrorInfo) Heading() string {
	switch e.Status {
	case http.StatusBadRequest:
		return "That request didn’t look right"
	case http.StatusUnauthorized:
		return "Please log in"
	case http.StatusForbidden:
		return "You can’t do that"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusMethodNotAllowed:
		return "Method not allowed"
	case http.StatusRequestEntityTooLarge:
		return "That’s too large"
	case http.StatusRequestedRangeNotSatisfiable:
		return "That part of the file isn’t there"
	case http.StatusTooManyRequests:
		return "Slow down a little"
	case http.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	if e.Status >= 500 {
		return "Something went wrong"
	}
	if t := http.StatusText(e.Status); t != "" {
		return t
	}
	return "Something went wrong"
}

// Lead is the explanation under the heading: the specific message when there
// is one, otherwise a friendly default for the status. Server errors never show
// a message, except a 503's: an application that answers 503 itself says what
// is unavailable (no room for uploads), which the default (a restart, heavy
// load) would misstate.
func (e ErrorInfo) Lead() string {
	if e.Message != "" && (e.Status < 500 || e.Status == http.StatusServiceUnavailable) {
		return e.Message
	}
	switch e.Status {
	case http.StatusBadRequest:
		return "Please check what you entered and try again."
	case http.StatusUnauthorized:
		return "You need to be logged in to see this page."
	case http.StatusForbidden:
		return "You don’t have permission for this. If you were submitting a form, reload the page and try again."
	case http.StatusNotFound:
		return "We couldn’t find what you were looking for. The link may be wrong, or the page may have moved."
	case http.StatusMethodNotAllowed:
		return "This address doesn’t accept that kind of request."
	case http.StatusRequestEntityTooLarge:
		return "What you sent is larger than we accept. Please send something smaller."
	case http.StatusRequestedRangeNotSatisfiable:
		return "The part of the file that was asked for lies beyond its end. Reload the page to play or download it from the start."
	case http.StatusTooManyRequests:
		return "Too many attempts in a short time. Please wait a minute and try again."
	case http.StatusServiceUnavailable:
		return "We’re restarting or under heavy load. Please try again in a moment."
	}
	return "An unexpected error happened on our side. It has been logged; please try again in a moment."
}
