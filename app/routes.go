package app

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// routeTable is what the shell knows about the routes in Echo's router and Echo does not tell a
// request: whether the route a request was routed to has a handler for the request's method, or is
// a stand-in that only answers 404 or 405 — a Group's 405 fillers, and the catch-all 404 routes Echo
// adds for group middleware (Group explains both). Echo hands every route it adds, however it is
// added (Router, Group, Echo() directly), to OnAddRouteHandler, which New points at added; a Router
// says what the route it is about to add is with adding. Nothing is said about a route added any
// other way, so it counts as a real route: the table errs on the side of checking CSRF tokens.
type routeTable struct {
	mu     sync.RWMutex
	routes map[routeKey]routeInfo
	next   routeInfo // what the Router said about the route being added now
}

// routeKey names a route as Echo's router does: a method (echo.RouteNotFound for a catch-all) and
// the route's path template, which is what c.Path() gives a request routed to it.
type routeKey struct{ method, path string }

// routeInfo is what the shell needs to know about one route; the zero value is a plain handler.
type routeInfo struct {
	filler bool // a Group's stand-in that answers 405 (OPTIONS: 204 with Allow)
	// signedOutTo is where a log-out route (Router.LogOut) sends a session that is not signed in
	// when its CSRF token does not check out; empty for every other route.
	signedOutTo string
}

// logOutRoute is the info of a log-out route that ends at done.
func logOutRoute(done string) routeInfo {
	if !IsLocalPath(done) {
		panic("app: Router.LogOut: done must be a local path, got " + done)
	}
	return routeInfo{signedOutTo: done}
}

func newRouteTable() *routeTable { return &routeTable{routes: map[routeKey]routeInfo{}} }

// added is Echo's OnAddRouteHandler: it records the route with what the Router said about it (a
// route added again replaces the old one in Echo's router too). The host is ignored: the shell
// serves one.
func (t *routeTable) added(_ string, r echo.Route, _ echo.HandlerFunc, _ []echo.MiddlewareFunc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.routes[routeKey{r.Method, r.Path}] = t.next
	t.next = routeInfo{}
}

// adding runs add, which adds one route to Echo, with info recorded for it.
func (t *routeTable) adding(info routeInfo, add func()) {
	t.mu.Lock()
	t.next = info
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.next = routeInfo{} // whatever happened, the next route is not this one
		t.mu.Unlock()
	}()
	add()
}

// routeOf tells what routing found for the request: unrouted when it found no handler of the
// request's method for its path, so that the request ends in a 404 or a 405 whatever it carries —
// Echo's own 404 (nothing matched) and 405 (the path has other methods; OPTIONS then gets Allow), a
// Group's 405 filler, or a Group's catch-all 404 (behind the group's middleware, which still runs:
// an anonymous visitor of a protected group is sent to log in). Otherwise info is what the Router
// said about the route.
func (s *Server) routeOf(c echo.Context) (info routeInfo, unrouted bool) {
	if _, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok {
		return routeInfo{}, true // Echo's router set it for its 405 and OPTIONS handlers only
	}
	path := c.Path()
	if path == "" {
		return routeInfo{}, true // nothing matched at all: a matched route's path is at least "/"
	}
	method := c.Request().Method
	if method == http.MethodHead {
		method = http.MethodGet // routed as GET (routeHeadAsGet)
	}
	t := s.routes
	t.mu.RLock()
	defer t.mu.RUnlock()
	if info, ok := t.routes[routeKey{method, path}]; ok {
		return info, info.filler
	}
	// No route of this method has this path template, so the router took the catch-all's 404, if
	// there is one; if there is not, this table missed something, and the request counts as routed.
	_, catchAll := t.routes[routeKey{echo.RouteNotFound, path}]
	return routeInfo{}, catchAll
}

// withHead adds HEAD, right after GET, to an Allow value that lists GET: HEAD is served wherever GET
// is (routeHeadAsGet) without a route of its own, so neither Echo's router nor a Group sees it.
func withHead(allow string) string {
	methods := strings.Split(allow, ",")
	get := -1
	for i, m := range methods {
		switch strings.TrimSpace(m) {
		case http.MethodHead:
			return allow
		case http.MethodGet:
			get = i
		}
	}
	if get < 0 {
		return allow
	}
	return strings.Join(slices.Insert(methods, get+1, " "+http.MethodHead), ",")
}

// allowHead is a Before hook for an answer Echo's router gives itself (a 405, or OPTIONS): it puts
// HEAD into the Allow header the router wrote, just before the header goes out.
func allowHead(c echo.Context) func() {
	return func() {
		h := c.Response().Header()
		if v := h.Values(echo.HeaderAllow); len(v) > 0 {
			h.Set(echo.HeaderAllow, withHead(strings.Join(v, ", ")))
		}
	}
}

// withoutTrailingSlash is where a GET (or HEAD) that routing found no page for goes instead, when
// its path ends in a slash and the same path without it is a page: /videos/ is /videos, as whoever
// typed or pasted it expects, rather than "Page not found". Only routing's own 404 qualifies (a
// handler's 404 is about a record, whatever its path), and only a path that stays local ("//host/"
// would become "//host", another site).
func (s *Server) withoutTrailingSlash(c echo.Context, err error) (string, bool) {
	req := c.Request()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return "", false
	}
	var httpErr *echo.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Code != http.StatusNotFound {
		return "", false
	}
	path := echo.GetPath(req) // the path as Echo routes it (escaped, when it has escapes)
	trimmed := strings.TrimSuffix(path, "/")
	if trimmed == path || !IsLocalPath(trimmed) {
		return "", false
	}
	// Route the trimmed path as the router would, on a context of its own: the request's context
	// must keep what routing found for it.
	probe := s.e.NewContext(req, nil)
	s.e.Router().Find(http.MethodGet, trimmed, probe)
	if _, unrouted := s.routeOf(probe); unrouted {
		return "", false
	}
	if req.URL.RawQuery != "" {
		trimmed += "?" + req.URL.RawQuery
	}
	return trimmed, true
}
