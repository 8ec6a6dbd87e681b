package registerusers

import (
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

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
	MaxLabelBytes    = 63  // RFC 1035's limit for one label of a domain name
)

// Messages shown next to the fields.
const (
	msgEmailMissing     = "Enter your email address."
	msgEmailInvalid     = "Enter a valid email address, like name@example.com."
	msgEmailTooLong     = "Email addresses are at most 254 characters."
	msgEmailTaken       = "This email address is already registered. Log in instead, or use another address."
	msgPasswordMissing  = "Enter a password."
	msgPasswordTooShort = "Use at least 8 characters."
	msgPasswordTooLong  = "Use at most 72 bytes (letters with accents and emoji count as several)."
	// msgFormUsed is shown when the form's user id already names another registration. It goes next
	// to the email, the field that differs from that registration.
	msgFormUsed = "This form was already used. Please register again."
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
	store  *messagestore.Store // read only: the form's command stream
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
	return &App{store: d.Store, writer: d.Store.WriterFor(Contract), views: d.Views, log: log.With("application", Contract.Name), cost: cost}
}

// Routes mounts the registration form, its submission and the completion page.
func (a *App) Routes(r app.Router) {
	r.GET(RegisterPath, a.showForm)
	r.POST(RegisterPath, a.register)
	r.GET(CompletePath, a.showComplete)
}

func (a *App) showForm(c echo.Context) error {
	return a.renderForm(c, http.StatusOK, templates.RegisterForm{UserID: uuid.NewString(), Next: safeNext(c.QueryParam("next"))})
}

// safeNext keeps next, the page a visitor was on the way to when sent to log in (the log-in page's
// "Create an account" link passes it on), only when it is a safe local path other than the home page.
func safeNext(next string) string {
	if next == "/" || !app.IsLocalPath(next) {
		return ""
	}
	return next
}

// loginURL is the log-in page with email (when known) and next (when set).
func loginURL(email, next string) string {
	q := url.Values{}
	if email != "" {
		q.Set("email", email)
	}
	if next != "" {
		q.Set("next", next)
	}
	if len(q) == 0 {
		return app.LoginPath
	}
	return app.LoginPath + "?" + q.Encode()
}

func (a *App) renderForm(c echo.Context, status int, f templates.RegisterForm) error {
	email := ""
	if f.EmailError == msgEmailTaken {
		email = f.Email
	}
	f.LoginURL = loginURL(email, f.Next)
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
	Next     string // where the visitor was going (safeNext); empty: nowhere in particular
}

// register validates the form, checks that the form's user id is unused and the email free, and
// sends identity the command. It is fetch, decide, write: fetch what the form's user id was used for
// (its command stream), decide (a resubmission, a reused form, or a new registration), write the
// command with expected version "no stream".
func (a *App) register(c echo.Context) error {
	form, err := app.FormParams(c)
	if err != nil {
		return err // a body over the limit (413) or an unreadable form (400)
	}
	userID, ok := app.ParseID(form.Get("userId"))
	if !ok {
		return app.BadRequest("The registration form is invalid. Please reload the page and try again.")
	}
	email, emailErr := validateEmail(form.Get("email"))
	reg := registration{
		UserID:   userID,
		Email:    email,
		Password: form.Get("password"),
		Next:     safeNext(form.Get("next")),
	}
	f := templates.RegisterForm{
		UserID:        reg.UserID,
		Email:         reg.Email,
		EmailError:    emailErr,
		PasswordError: validatePassword(reg.Password),
		Next:          reg.Next,
	}
	ctx := c.Request().Context()
	stream := identitymsg.CommandStreamName(reg.UserID)
	if !f.HasErrors() {
		// Decided before the view check: after a double click the view may already hold this very
		// registration's email, and the second click must be answered like the first.
		used, version, err := messagestore.Fetch(ctx, a.store, stream, formUseProjection)
		if err != nil {
			return err
		}
		if version != messagestore.NoStream {
			return a.answerUsedForm(c, reg, used)
		}
	}
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
	_, err = a.writer.Write(ctx, stream, messagestore.NoStream, cmd)
	if messagestore.IsVersionConflict(err) {
		// The same form was submitted at the same moment (a fast double click, or the form was
		// copied): decide again on what that submission wrote.
		used, _, err := messagestore.Fetch(ctx, a.store, stream, formUseProjection)
		if err != nil {
			return err
		}
		return a.answerUsedForm(c, reg, used)
	}
	if err != nil {
		return err
	}
	app.Logger(c).Info("registration sent to identity", "userId", reg.UserID)
	return c.Redirect(http.StatusSeeOther, completeURL(reg.UserID, reg.Next))
}

// completeURL is the registration-complete page following the registration of userID, with next
// (where the visitor was going) when set.
func completeURL(userID, next string) string {
	u := CompletePath + "?user=" + userID
	if next != "" {
		u += "&next=" + url.QueryEscape(next)
	}
	return u
}

// answerUsedForm answers a form whose user id already has a command. The same email is the same
// registration submitted again (a double click, a reload): it is under way, so the visitor is answered
// like the first time and nothing is written. Another email (or a stream whose Register cannot be
// read) is a different registration that must not be thanked for, since identity would ignore it: the
// form comes back with a fresh user id, so that submitting it again registers.
//
// The status is 409 Conflict rather than 400: nothing in the input is malformed, it conflicts with
// the registration the user id already names, and the same input succeeds with the fresh form.
func (a *App) answerUsedForm(c echo.Context, reg registration, used formUse) error {
	if used.Email != "" && used.Email == reg.Email {
		app.Logger(c).Info("registration form submitted again", "userId", reg.UserID)
		return c.Redirect(http.StatusSeeOther, completeURL(reg.UserID, reg.Next))
	}
	app.Logger(c).Info("registration form reused for another registration: refused",
		"userId", reg.UserID, "registerReadable", used.Email != "")
	return a.renderForm(c, http.StatusConflict, templates.RegisterForm{
		UserID:     uuid.NewString(),
		Email:      reg.Email,
		EmailError: msgFormUsed,
		Next:       reg.Next,
	})
}

// formUse is what a form's user id was used for: the projection of its command stream.
type formUse struct {
	// Email is the (normalised) email of the stream's first Register; empty when the stream holds
	// no Register that can be read, and the application cannot tell whose registration it is.
	Email string
}

var typeRegister = messagestore.TypeName(identitymsg.Register{})

var formUseProjection = messagestore.Projection[formUse]{
	Init: func() formUse { return formUse{} },
	Apply: func(u formUse, m messagestore.Message) (formUse, error) {
		if m.Type != typeRegister || u.Email != "" {
			return u, nil // identity acts on the first Register; later ones are ignored
		}
		var cmd identitymsg.Register
		if err := m.Decode(&cmd); err != nil {
			// Not an error of this request: the form is refused as one the application cannot
			// tell apart from another registration.
			return u, nil
		}
		u.Email = viewdata.NormalizeEmail(cmd.Email)
		return u, nil
	},
}

// showComplete tells the visitor what became of the registration named by ?user= (the redirect after
// POST /register names it): identity may still be deciding (the page reloads itself every two
// seconds), the account may be ready, or the registration may have lost its email to another made at
// the same moment (the form's own check cannot see that one coming). Without ?user= it is the
// pending page, as a bookmark of it was before.
func (a *App) showComplete(c echo.Context) error {
	var view templates.RegistrationCompleteView
	if next := safeNext(c.QueryParam("next")); next != "" {
		view.LoginURL = loginURL("", next)
		view.RegisterURL = RegisterPath + "?next=" + url.QueryEscape(next)
	}
	if param := c.QueryParam("user"); param != "" {
		userID, ok := app.ParseID(param)
		if !ok {
			return app.BadRequest("That link names no registration.")
		}
		outcome, err := viewdata.RegistrationOutcomeOf(c.Request().Context(), a.views, userID)
		if err != nil {
			return err
		}
		switch {
		case outcome.Registered:
			view.State = templates.RegistrationDone
		case outcome.Rejected:
			view.State, view.Reason = templates.RegistrationRejected, rejectionText(outcome.Reason)
		default:
			// Not decided, or never sent: a link whose user id no registration used (mistyped,
			// made up) would otherwise be "setting up your account" forever.
			_, version, err := messagestore.Fetch(c.Request().Context(), a.store, identitymsg.CommandStreamName(userID), formUseProjection)
			if err != nil {
				return err
			}
			if version == messagestore.NoStream {
				return app.NotFound("That link names no registration. If you registered, log in; if not, please register again.")
			}
			c.Response().Header().Set("Refresh", "2")
		}
	}
	return app.Render(c, http.StatusOK, templates.RegistrationComplete(app.PageFor(c, "Registration complete"), view))
}

// rejectionText is identity's reason for a rejection, in words for the visitor.
func rejectionText(reason string) string {
	if reason == identitymsg.ReasonEmailTaken {
		return msgEmailTaken
	}
	return "Your registration was not accepted (" + reason + "). Please register again."
}

// validateEmail normalises the submitted email (viewdata.NormalizeEmail) and returns it with the
// message for the field, or "". Beyond what net/mail parses, it asks for an address that mail can be
// delivered to: a bare address, valid UTF-8 without control characters, odd spaces or invisible
// characters (identitymsg.HasUnseenCharacters), and a domain name of at least
// two labels of letters, digits and hyphens (any script: international addresses are welcome), each
// 1 to 63 bytes, not starting or ending with a hyphen.
func validateEmail(input string) (email, msg string) {
	email = viewdata.NormalizeEmail(input)
	if email == "" {
		return email, msgEmailMissing
	}
	// Checked before normalising: lower-casing turns invalid bytes into U+FFFD, a valid character.
	if trimmed := strings.TrimSpace(input); !utf8.ValidString(trimmed) || identitymsg.HasUnseenCharacters(trimmed) {
		return email, msgEmailInvalid
	}
	if len(email) > MaxEmailBytes {
		return email, msgEmailTooLong
	}
	// A bare address only: "Name <a@b.example>" parses too, but is not what the field asks for (and
	// identity rejects anything but a bare address).
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		return email, msgEmailInvalid
	}
	if !validDomain(email[strings.LastIndexByte(email, '@')+1:]) {
		return email, msgEmailInvalid
	}
	return email, ""
}

// validDomain reports whether domain is a host name mail can be sent to: two labels or more (no
// single-label "localhost" or "y"), none empty or over 63 bytes, each of letters, digits (of any
// script, for international domain names) and inner hyphens. Domain literals ("[192.0.2.1]") and
// punctuation that net/mail allows in an atom ("ex!ample") are refused.
func validDomain(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > MaxLabelBytes || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
				return false
			}
		}
	}
	return true
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
