package authenticate

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"videotutorials/app"
	"videotutorials/app/authenticate/authenticationmsg"
	"videotutorials/messagestore"
	"videotutorials/templates"
	"videotutorials/viewdata"
)

// Contract declares the authenticate application: it alone appends to the authentication category.
var Contract = messagestore.Contract{
	Name: "authenticate",
	Kind: "application",
	Owns: []string{authenticationmsg.Category},
}

// Routes of the application.
const (
	LogInPath  = app.LoginPath // "/auth/log-in"
	LogOutPath = "/auth/log-out"
)

// Messages shown on the form.
const (
	// MsgIncorrect is the answer to an unknown email and to a wrong password alike.
	MsgIncorrect       = "Incorrect email or password."
	msgEmailMissing    = "Enter your email address."
	msgPasswordMissing = "Enter your password."
)

// ReasonIncorrectPassword is the reason of UserLoginFailed for a wrong password.
const ReasonIncorrectPassword = "incorrect password"

// dummyHash is compared against when the email is unknown, so that the answer costs one bcrypt
// comparison either way. It is a hash of a random string nobody knows, at bcrypt.DefaultCost, the
// cost of every real hash (register-users).
const dummyHash = "$2a$10$AearM4T9W10TMBALj0.mC.fpZr6QhehbQh8928ejN72cLAquNLrI."

// maxEmailBytes bounds the email looked up (longer ones cannot be registered).
const maxEmailBytes = 254

// Deps are what the application needs.
type Deps struct {
	Store *messagestore.Store
	// Views is where the credentials view is read: the read-only pool.
	Views  viewdata.Querier
	Logger *slog.Logger
	// Throttle tunes the limits on failed log-ins; zero fields get the defaults.
	Throttle Throttle
	// Now is the clock of the throttle. Default time.Now.
	Now func() time.Time
}

// App is the authenticate application.
type App struct {
	writer  *messagestore.Writer
	views   viewdata.Querier
	log     *slog.Logger
	limiter *limiter
}

// New returns the application; it writes through a writer scoped to Contract.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &App{
		writer:  d.Store.WriterFor(Contract),
		views:   d.Views,
		log:     log.With("application", Contract.Name),
		limiter: newLimiter(d.Throttle, now),
	}
}

// Routes mounts the log-in form, its submission and the log-out.
func (a *App) Routes(r app.Router) {
	r.GET(LogInPath, a.showForm)
	r.POST(LogInPath, a.logIn)
	r.LogOut(LogOutPath, a.logOut, afterLogOut)
}

// afterLogOut is where a log-out ends, also one of a session that was not signed in any more (a second
// tab's form, whose session the first tab logged out; the shell sends it here, see app.Router.LogOut).
const afterLogOut = "/"

func (a *App) showForm(c echo.Context) error {
	f := templates.LogInForm{Next: safeNext(c.QueryParam("next"))}
	if email := viewdata.NormalizeEmail(c.QueryParam("email")); len(email) <= maxEmailBytes {
		f.Email = email
	}
	return a.renderForm(c, http.StatusOK, f)
}

func (a *App) renderForm(c echo.Context, status int, f templates.LogInForm) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return app.Render(c, status, templates.LogIn(app.PageFor(c, "Log in"), f))
}

// logIn checks the email and password and starts the session.
func (a *App) logIn(c echo.Context) error {
	form, err := app.FormParams(c)
	if err != nil {
		return err // a body over the limit (413) or an unreadable form (400)
	}
	email := viewdata.NormalizeEmail(form.Get("email"))
	password := form.Get("password")
	f := templates.LogInForm{Email: email, Next: safeNext(form.Get("next"))}
	if email == "" {
		f.EmailError = msgEmailMissing
	}
	if password == "" {
		f.PasswordError = msgPasswordMissing
	}
	if f.EmailError != "" || f.PasswordError != "" {
		return a.renderForm(c, http.StatusBadRequest, f)
	}
	// The throttle's key; an email longer than any registered one is cut to keep the keys small.
	key := email
	if len(key) > maxEmailBytes {
		key = key[:maxEmailBytes]
	}

	ip := c.RealIP()
	ticket, ok, wait := a.limiter.attempt(key, ip)
	if !ok {
		app.Logger(c).Warn("log-in throttled", "ip", ip)
		return tooManyAttempts(c, wait)
	}

	ctx := c.Request().Context()
	creds, err := viewdata.UserCredentials{}, viewdata.ErrNotFound
	if storable(email) {
		creds, err = viewdata.CredentialsByEmail(ctx, a.views, email)
	}
	if errors.Is(err, viewdata.ErrNotFound) {
		// Same cost and same answer as a wrong password: nobody learns whether the email is registered.
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		app.Logger(c).Info("log-in failed: unknown email")
		f.Error = MsgIncorrect
		return a.renderForm(c, http.StatusUnauthorized, f)
	}
	if err != nil {
		a.limiter.abandon(ticket)
		return err
	}

	md := messagestore.Metadata{TraceID: app.TraceID(c), UserID: app.UserIDFrom(ctx)}
	if bcrypt.CompareHashAndPassword([]byte(creds.PasswordHash), []byte(password)) != nil {
		failed := messagestore.NewEvent(authenticationmsg.UserLoginFailed{UserID: creds.ID, Reason: ReasonIncorrectPassword}, md)
		if _, err := a.writer.Write(ctx, authenticationmsg.StreamName(creds.ID), messagestore.AnyVersion, failed); err != nil {
			return err
		}
		app.Logger(c).Info("log-in failed: incorrect password", "userId", creds.ID)
		f.Error = MsgIncorrect
		return a.renderForm(c, http.StatusUnauthorized, f)
	}

	md.UserID = creds.ID // the user is the one acting now
	loggedIn := messagestore.NewEvent(authenticationmsg.UserLoggedIn{UserID: creds.ID}, md)
	if _, err := a.writer.Write(ctx, authenticationmsg.StreamName(creds.ID), messagestore.AnyVersion, loggedIn); err != nil {
		a.limiter.abandon(ticket)
		return err
	}
	a.limiter.succeeded(ticket)
	if err := app.SignIn(c, creds.ID); err != nil {
		return err
	}
	app.Logger(c).Info("logged in", "userId", creds.ID)
	return c.Redirect(http.StatusSeeOther, app.SafeRedirect(f.Next, "/"))
}

// logOut ends the session. It is a POST (with the CSRF token): a link or an image cannot log anyone out.
// The log-out is recorded (UserLoggedOut with the session's ref), so that a copy of the session's
// cookie is refused in every process from then on, not only cleared in this browser.
func (a *App) logOut(c echo.Context) error {
	ctx := c.Request().Context()
	if userID, ok := app.CurrentUserID(c); ok {
		md := messagestore.Metadata{TraceID: app.TraceID(c), UserID: userID}
		loggedOut := messagestore.NewEvent(authenticationmsg.UserLoggedOut{UserID: userID, SessionRef: app.SessionRef(c)}, md)
		if _, err := a.writer.Write(ctx, authenticationmsg.StreamName(userID), messagestore.AnyVersion, loggedOut); err != nil {
			return err
		}
	}
	if err := app.SignOut(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, afterLogOut)
}

// tooManyAttempts answers a throttled log-in: 429 with a Retry-After header and a message that says
// how long to wait.
func tooManyAttempts(c echo.Context, wait time.Duration) error {
	minutes := int(math.Ceil(wait.Minutes()))
	if minutes < 1 {
		minutes = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	unit := "minutes"
	if minutes == 1 {
		unit = "minute"
	}
	return app.TooManyRequests("Too many failed log-in attempts. For your security, logging in is paused for this " +
		"account or network; please try again in " + strconv.Itoa(minutes) + " " + unit + ".")
}

// storable reports whether an email can be looked up at all: PostgreSQL text holds neither NUL bytes
// nor invalid UTF-8 (the lookup would fail with a 500), and no registered email has them, so such an
// email is simply unknown.
func storable(email string) bool {
	return utf8.ValidString(email) && !strings.ContainsRune(email, 0)
}

// safeNext keeps next only when it is a safe local path (app.IsLocalPath); "/" is the default anyway.
func safeNext(next string) string {
	if next == "/" || !app.IsLocalPath(next) {
		return ""
	}
	return next
}
