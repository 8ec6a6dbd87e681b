package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Deps are the server's dependencies and settings. Only Logger and
// SessionSecret matter in most cases; every other field has a sane default.
type Deps struct {
	// Logger receives request logs and errors. Nil means slog.Default().
	Logger *slog.Logger

	// SessionSecret signs session cookies and CSRF tokens. It must be at
	// least 32 random bytes and stay the same across restarts (and across
	// processes sharing users), otherwise everyone is signed out.
	SessionSecret []byte
	// SecureCookies marks cookies Secure even when the request did not arrive
	// over TLS, e.g. behind a TLS-terminating proxy.
	SecureCookies bool
	// SessionTTL is how long a session stays valid without activity. It is
	// renewed while used, up to SessionMaxAge after signing in. Defaults: 7
	// days and 30 days.
	SessionTTL    time.Duration
	SessionMaxAge time.Duration

	// Identify looks up what the layout and RequireAdmin need to know about a
	// signed-in user. Optional: without it the header shows no email and
	// nobody is an admin. Return a zero Identity and nil for an unknown user.
	Identify func(ctx context.Context, userID string) (Identity, error)

	// SessionRevoked reports whether the signed-in session named by ref
	// (SessionRef) was logged out, in any process. Optional: without it only
	// the process that logged a session out refuses its cookie. The
	// shell asks it at most every revocationRecheck per session, and
	// remembers a revocation for good; on an error the session is kept (a
	// database hiccup does not sign everyone out) and the error logged.
	SessionRevoked func(ctx context.Context, ref string) (bool, error)

	// Middleware is run outermost, before trace ids, logging and recovery, so
	// that it observes the final status and the full latency of every request
	// (errors are already rendered when it returns). Meant for metrics; the
	// route template is available as c.Path().
	Middleware []echo.MiddlewareFunc

	// BodyLimit is the default maximum request body size. Default 1 MiB;
	// routes may raise it with BodyLimit(n, timeout).
	BodyLimit int64

	// IPExtractor decides c.RealIP(). Default: the TCP peer address, because
	// trusting X-Forwarded-For without a proxy lets clients pick their IP
	// (which would defeat log-in throttling). Behind a proxy, use
	// echo.ExtractIPFromXFFHeader with the proxy's range.
	IPExtractor echo.IPExtractor

	// Timeouts of the HTTP server; zero fields get the defaults below.
	Timeouts Timeouts

	// Now is the clock; tests set it to check expiry. Default time.Now.
	Now func() time.Time
}

// Timeouts are the net/http server timeouts. Long-lived responses (live
// streams, video files) and long uploads extend their own deadlines with
// http.ResponseController; see LiveStream and BodyLimit.
type Timeouts struct {
	ReadHeader time.Duration // default 10s: slow-loris protection
	Read       time.Duration // default 60s: whole request incl. body
	Write      time.Duration // default 60s: whole response
	Idle       time.Duration // default 120s: keep-alive
	Shutdown   time.Duration // default 15s: grace period for in-flight requests
	// Request is how long a handler may wait, for the database above all, before the request is
	// answered 503 with Retry-After (deadline.go). Default 15s; negative: no deadline. Live streams
	// lift it, and BodyLimit moves it by the time it gives an upload.
	Request time.Duration
}

// Identity is what the shell knows about a signed-in user beyond the id.
type Identity struct {
	Email   string
	IsAdmin bool
}

// Defaults.
const (
	DefaultBodyLimit      int64 = 1 << 20
	DefaultSessionTTL           = 7 * 24 * time.Hour
	DefaultSessionMaxAge        = 30 * 24 * time.Hour
	DefaultRequestTimeout       = 15 * time.Second
	minSecretLen                = 32
)

// Server is the web application shell: an Echo instance with the middleware
// stack, error handling, sessions, CSRF protection and static assets, into
// which the applications are mounted.
type Server struct {
	e        *echo.Echo
	log      *slog.Logger
	deps     Deps
	sessions *sessionCodec
	// revocations remembers which signed-in sessions were logged out.
	revocations *revocations
	errMap      errorMappings
	now         func() time.Time
	timeouts    Timeouts
	bodyLimit   int64

	// routes knows which routes in Echo's router only answer 404 or 405.
	routes *routeTable

	// draining is closed when graceful shutdown begins. Long-lived responses
	// (live streams) watch it and end, because http.Server.Shutdown waits
	// for every connection to become idle and a stream never does.
	draining     chan struct{}
	drainingOnce sync.Once
	// liveStreams counts the open live streams per session (LiveStream).
	liveStreams liveStreamCounts
}

// New builds the server and its middleware stack. It panics when
// SessionSecret is shorter than 32 bytes: that is a wiring mistake in main,
// and running with a guessable secret would let anyone forge sessions.
func New(deps Deps) *Server {
	if len(deps.SessionSecret) < minSecretLen {
		panic(fmt.Sprintf("app: SessionSecret must be at least %d bytes, got %d", minSecretLen, len(deps.SessionSecret)))
	}
	s := &Server{
		e:         echo.New(),
		log:       deps.Logger,
		deps:      deps,
		now:       deps.Now,
		timeouts:  deps.Timeouts,
		bodyLimit: deps.BodyLimit,
		draining:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.bodyLimit <= 0 {
		s.bodyLimit = DefaultBodyLimit
	}
	ttl, maxAge := deps.SessionTTL, deps.SessionMaxAge
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if maxAge <= 0 {
		maxAge = DefaultSessionMaxAge
	}
	if maxAge < ttl {
		maxAge = ttl
	}
	s.sessions = newSessionCodec(deps.SessionSecret, ttl, maxAge)
	s.revocations = newRevocations(deps.SessionRevoked)
	s.routes = newRouteTable()
	s.timeouts = withDefaultTimeouts(deps.Timeouts)
	s.MapError(ErrNotFound, http.StatusNotFound)

	e := s.e
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(io.Discard) // everything we log goes through slog
	e.HTTPErrorHandler = s.handleError
	e.OnAddRouteHandler = s.routes.added // before any route is added
	if deps.IPExtractor != nil {
		e.IPExtractor = deps.IPExtractor
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}

	// Order matters; each layer relies on the ones outside it:
	//  1. deps.Middleware (metrics) sees the final, rendered outcome.
	//  2. observe: trace id, request logger; renders errors so 1 sees them.
	//  3. recoverPanics: a panic becomes an error for 2 to render and log.
	//  4. securityHeaders: on every response, error pages included.
	//  5. limitBody: before anything reads the body (CSRF reads forms).
	//  6. loadSession: CSRF tokens are bound to the session.
	//  7. checkCSRF: before any handler can change state.
	// 2–7 are one Echo middleware (shell), each layer calling the next by
	// name: Echo wraps its middleware around the handler anew for every
	// request, which costs a closure per layer.
	e.Pre(routeHeadAsGet)
	e.Use(deps.Middleware...)
	e.Use(s.shell)

	e.GET("/static/*", serveStatic)
	e.HEAD("/static/*", serveStatic)
	e.GET("/favicon.ico", serveFavicon)
	return s
}

// routeHeadAsGet routes a HEAD request to the path's GET handler (Echo answers
// 405 to HEAD on a route registered for GET only; uptime monitors and link
// checkers send HEAD). It runs before routing; observe gives the request its
// method back before any handler runs, so net/http sends the headers and
// drops the body, as HEAD requires. The rewrite is marked on the context
// because the request is the same object throughout.
func routeHeadAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if req := c.Request(); req.Method == http.MethodHead {
			req.Method = http.MethodGet
			c.Set(headKey, true)
		}
		return next(c)
	}
}

// headKey marks a request routed by routeHeadAsGet.
const headKey = "app.head"

// shell is the server's own middleware: layers 2–7 above, starting with
// observe.
func (s *Server) shell(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return s.observe(c, next) }
}

func withDefaultTimeouts(t Timeouts) Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Read, 60*time.Second)
	def(&t.Write, 60*time.Second)
	def(&t.Idle, 120*time.Second)
	def(&t.Shutdown, 15*time.Second)
	if t.Request == 0 {
		t.Request = DefaultRequestTimeout
	}
	return t
}

// Echo returns the underlying Echo instance, for tests (httptest against
// Echo().ServeHTTP) and for main to add operational routes such as /healthz.
// Applications register routes through Mount instead. Its OnAddRouteHandler
// belongs to the shell (routeTable): replacing it would only make the shell
// ask for CSRF tokens on some 404s and 405s again.
func (s *Server) Echo() *echo.Echo { return s.e }

// Application is one of the web applications (home, record-viewings,
// register-users, …). It registers its routes on the Router it is given; it
// knows nothing about the other applications.
type Application interface {
	Routes(r Router)
}

// ApplicationFunc adapts a function to Application.
type ApplicationFunc func(r Router)

// Routes calls f(r).
func (f ApplicationFunc) Routes(r Router) { f(r) }

// Router is what an application may do with the route table: add routes and
// create prefixed groups with their own middleware, e.g.
//
//	portal := r.Group("/creators-portal", app.RequireLogin)
//	portal.GET("/", h.dashboard)
//
// It deliberately has no Use: middleware added to the root would apply to
// every other application's routes and to the site-wide 404 (Echo implements
// group middleware with catch-all routes), so an application scopes its
// middleware to its own prefix or to single routes.
type Router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	HEAD(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	PATCH(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	// Group returns a group under prefix. prefix must not be empty or "/"
	// when middleware is given, for the reason explained on Router.
	Group(prefix string, m ...echo.MiddlewareFunc) *Group
	// LogOut adds the log-out: a POST of path to h, which ends the session
	// (SignOut) and redirects to done, a local path. Logging out a session
	// that is not signed in changes nothing, so there is nothing to forge:
	// when such a request's CSRF token does not check out (the form of a
	// second tab, whose session the first tab logged out), the shell
	// redirects it to done without running h or touching the session. A
	// signed-in session's log-out needs its token as every POST does.
	LogOut(path string, h echo.HandlerFunc, done string, m ...echo.MiddlewareFunc) *echo.Route
}

// Group is routes under one prefix that share middleware: an echo.Group that
// answers a wrong method with 405, as the rest of the site does. Echo runs group
// middleware through catch-all routes, and its router prefers such a route (a
// 404) to a 405 when a path of the group is asked with a method it does not
// have. So for every path it adds, Group also registers the other methods with
// a handler that answers 405 with Allow, and OPTIONS with 204 and Allow as Echo
// does elsewhere, behind the group's middleware (an anonymous visitor of a
// protected group is still sent to log in, whatever the path or method); a route
// added later for one of them replaces the filler.
type Group struct {
	g       *echo.Group
	routes  *routeTable
	methods map[string][]string // path → its methods, in the order added
}

// fillable are the methods a path of a group answers with 405 (OPTIONS: 204)
// unless it has them.
var fillable = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
	http.MethodOptions}

func (g *Group) add(method, p string, h echo.HandlerFunc, m []echo.MiddlewareFunc) *echo.Route {
	return g.addRoute(routeInfo{}, method, p, h, m)
}

// addRoute adds the route, with info for the shell, and the fillers of its path.
func (g *Group) addRoute(info routeInfo, method, p string, h echo.HandlerFunc, m []echo.MiddlewareFunc) *echo.Route {
	var r *echo.Route
	g.routes.adding(info, func() { r = g.g.Add(method, p, h, m...) })
	if g.methods == nil {
		g.methods = map[string][]string{}
	}
	if !slices.Contains(g.methods[p], method) {
		g.methods[p] = append(g.methods[p], method)
	}
	allowed := slices.Clone(g.methods[p])
	if !slices.Contains(allowed, http.MethodOptions) {
		allowed = append(allowed, http.MethodOptions)
	}
	allow := withHead(strings.Join(allowed, ", "))
	notAllowed := func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderAllow, allow)
		return echo.ErrMethodNotAllowed
	}
	options := func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderAllow, allow)
		return c.NoContent(http.StatusNoContent)
	}
	for _, other := range fillable {
		if slices.Contains(g.methods[p], other) {
			continue
		}
		filler := notAllowed
		if other == http.MethodOptions {
			filler = options
		}
		g.routes.adding(routeInfo{filler: true}, func() { g.g.Add(other, p, filler) })
	}
	return r
}

func (g *Group) GET(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(http.MethodGet, p, h, m)
}

func (g *Group) HEAD(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(http.MethodHead, p, h, m)
}

func (g *Group) POST(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(http.MethodPost, p, h, m)
}

func (g *Group) PUT(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(http.MethodPut, p, h, m)
}

func (g *Group) PATCH(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(http.MethodPatch, p, h, m)
}

func (g *Group) DELETE(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(http.MethodDelete, p, h, m)
}

func (g *Group) Add(method, p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return g.add(method, p, h, m)
}

func (g *Group) LogOut(p string, h echo.HandlerFunc, done string, m ...echo.MiddlewareFunc) *echo.Route {
	return g.addRoute(logOutRoute(done), http.MethodPost, p, h, m)
}

// rootRouter is the Router given to applications: the root group minus Use,
// plus a guard against root-level group middleware.
type rootRouter struct {
	g      *echo.Group
	routes *routeTable
}

func (r rootRouter) GET(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.GET(p, h, m...)
}

func (r rootRouter) HEAD(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.HEAD(p, h, m...)
}

func (r rootRouter) POST(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.POST(p, h, m...)
}

func (r rootRouter) PUT(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.PUT(p, h, m...)
}

func (r rootRouter) PATCH(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.PATCH(p, h, m...)
}

func (r rootRouter) DELETE(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.DELETE(p, h, m...)
}

func (r rootRouter) Add(method, p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.g.Add(method, p, h, m...)
}

func (r rootRouter) LogOut(p string, h echo.HandlerFunc, done string, m ...echo.MiddlewareFunc) *echo.Route {
	var route *echo.Route
	r.routes.adding(logOutRoute(done), func() { route = r.g.POST(p, h, m...) })
	return route
}

func (r rootRouter) Group(prefix string, m ...echo.MiddlewareFunc) *Group {
	if len(m) > 0 && (prefix == "" || prefix == "/") {
		panic("app: Router.Group with middleware needs a non-root prefix; put the middleware on the routes instead")
	}
	return &Group{g: r.g.Group(prefix, m...), routes: r.routes}
}

// Mount registers the applications' routes. Call it before Run.
func (s *Server) Mount(apps ...Application) {
	for _, a := range apps {
		a.Routes(rootRouter{g: s.e.Group(""), routes: s.routes})
	}
}

// Run serves HTTP on addr until ctx is done, then shuts down gracefully: it
// stops accepting connections, ends live streams, lets in-flight requests
// finish for up to Timeouts.Shutdown and then closes what is left. addr may
// use port 0; ready (optional) is called with the actual address once the
// listener accepts connections, before Run blocks. Run returns nil after a
// clean shutdown.
func (s *Server) Run(ctx context.Context, addr string, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("app: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: s.timeouts.ReadHeader,
		ReadTimeout:       s.timeouts.Read,
		WriteTimeout:      s.timeouts.Write,
		IdleTimeout:       s.timeouts.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests must not inherit ctx's cancellation: when ctx ends we want
		// in-flight handlers to finish, not to be aborted mid-write. Values
		// (if any) are kept.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(s.drain)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("web server listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}

	select {
	case err := <-served:
		return fmt.Errorf("app: serve: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("web server shutting down", "grace", s.timeouts.Shutdown)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.timeouts.Shutdown)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Grace period over: cut the remaining connections (a slow upload, say). That is the
		// shutdown working as configured, not a failure of the program: it still exits 0, so an
		// orchestrator does not count the stop it asked for as a crash.
		_ = srv.Close()
		s.log.Warn("grace period over: cut the requests still in flight", "grace", s.timeouts.Shutdown)
		err = nil
	} else if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("app: graceful shutdown: %w", err)
	}
	if serveErr := <-served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("app: serve: %w", serveErr))
	}
	if err == nil {
		s.log.Info("web server stopped")
	}
	return err
}

func (s *Server) drain() { s.drainingOnce.Do(func() { close(s.draining) }) }
