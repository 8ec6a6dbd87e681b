package registerusers

import (
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"videotutorials/app"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/messagestore"
	"videotutorials/templates"
	"videotutorials/viewdata"
)

// Contract declares the register-users application: it sends Register commands to identity.
var Contract = messagestore.Contract{
	Name:    "register-users",
	Kind:    "application",
	SendsTo: []string{identitymsg.CommandCategory},
}

// Routes of the application.
const (
	RegisterPath = "/register"
	CompletePath = "/register/registration-complete"
)

// Password and email limits. bcrypt uses at most 72 bytes of a password (longer ones are refused by
// golang.org/x/crypto/bcrypt), so longer passwords are refused here with a message rather than failing.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 72
	MaxEmailBytes    = 254 // RFC 5321's limit for a forward path
)

// Messages shown next to the fields.
const (
	msgEmailMissing     = "Enter your email address."
	msgEmailInvalid     = "Enter a valid email address, like name@example.com."
	msgEmailTaken       = "This email address is already registered. Log in instead, or use another address."
	msgPasswordMissing  = "Enter a password."
	msgPasswordTooShort = "Use at least 8 characters."
	msgPasswordTooLong  = "Use at most 72 bytes (letters with accents and emoji count as several)."
)

// Deps are what the application needs.
type Deps struct {
	Store *messagestore.Store
	// Views is where the credentials view is read: the read-only pool.
	Views  viewdata.Querier
	Logger *slog.Logger
	// BcryptCost is the cost of the password hashes. Zero means bcrypt.DefaultCost.
	BcryptCost int
}

// App is the register-users application.
type App struct {
	writer *messagestore.Writer
	views  viewdata.Querier
	log    *slog.Logger
	cost   int
}

// New returns the application; it writes through a writer scoped to Contract.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	cost := d.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	return &App{writer: d.Store.WriterFor(Contract), views: d.Views, log: log.With("application", Contract.Name), cost: cost}
}

// Routes mounts the registration form, its submission and the completion page.
func (a *App) Routes(r app.Router) {
	r.GET(RegisterPath, a.showForm)
	r.POST(RegisterPath, a.register)
	r.GET(CompletePath, a.showComplete)
}

func (a *App) showForm(c echo.Context) error {
	return a.renderForm(c, http.StatusOK, templates.RegisterForm{UserID: uuid.NewString()})
}

func (a *App) renderForm(c echo.Context, status int, f templates.RegisterForm) error {
	f.LoginURL = app.LoginPath
	if f.EmailError == msgEmailTaken {
		f.LoginURL = app.LoginPath + "?email=" + url.QueryEscape(f.Email)
	}
	// The form holds a user id meant for one registration: a back button should fetch a fresh one
	// rather than resubmit an old page.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return app.Render(c, status, templates.Register(app.PageFor(c, "Register"), f))
}

// registration is the submitted form.
type registration struct {
	UserID   string
	Email    string
	Password string
}

// register validates the form, checks the credentials view, and sends identity the command.
func (a *App) register(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return err // a body over the limit (413) or an unreadable form (400)
	}
	userID, ok := app.ParseID(form.Get("userId"))
	if !ok {
		return app.BadRequest("The registration form is invalid. Please reload the page and try again.")
	}
	reg := registration{
		UserID:   userID,
		Email:    viewdata.NormalizeEmail(form.Get("email")),
		Password: form.Get("password"),
	}
	f := templates.RegisterForm{
		UserID:        reg.UserID,
		Email:         reg.Email,
		EmailError:    validateEmail(reg.Email),
		PasswordError: validatePassword(reg.Password),
	}
	ctx := c.Request().Context()
	if f.EmailError == "" {
		taken, err := viewdata.EmailTaken(ctx, a.views, reg.Email)
		if err != nil {
			return err
		}
		if taken {
			f.EmailError = msgEmailTaken
		}
	}
	if f.HasErrors() {
		return a.renderForm(c, http.StatusBadRequest, f)
	}

	hash, err := bcrypt.GenerateFromPassword([]byte(reg.Password), a.cost)
	if err != nil {
		return err
	}
	cmd := messagestore.NewEvent(
		identitymsg.Register{UserID: reg.UserID, Email: reg.Email, PasswordHash: string(hash)},
		messagestore.Metadata{TraceID: app.TraceID(c), UserID: app.UserIDFrom(ctx)},
	)
	_, err = a.writer.Write(ctx, identitymsg.CommandStreamName(reg.UserID), messagestore.NoStream, cmd)
	switch {
	case messagestore.IsVersionConflict(err):
		// This form was submitted before (a double click, a reload): its registration is under way.
		app.Logger(c).Info("registration form submitted again", "userId", reg.UserID)
	case err != nil:
		return err
	default:
		app.Logger(c).Info("registration sent to identity", "userId", reg.UserID)
	}
	return c.Redirect(http.StatusSeeOther, CompletePath)
}

func (a *App) showComplete(c echo.Context) error {
	return app.Render(c, http.StatusOK, templates.RegistrationComplete(app.PageFor(c, "Registration complete")))
}

// validateEmail checks a normalised email and returns the message for the field, or "".
func validateEmail(email string) string {
	if email == "" {
		return msgEmailMissing
	}
	if len(email) > MaxEmailBytes {
		return msgEmailInvalid
	}
	// A bare address only: "Name <a@b.example>" parses too, but is not what the field asks for (and
	// identity rejects anything but a bare address).
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		return msgEmailInvalid
	}
	return ""
}

// validatePassword returns the message for the password field, or "".
func validatePassword(password string) string {
	switch {
	case password == "":
		return msgPasswordMissing
	case len(password) < MinPasswordBytes:
		return msgPasswordTooShort
	case len(password) > MaxPasswordBytes:
		return msgPasswordTooLong
	}
	return ""
}
