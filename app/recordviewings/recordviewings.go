package recordviewings

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/messagestore"
)

// Contract declares the record-viewings application: it alone appends to the viewing category.
var Contract = messagestore.Contract{
	Name: "record-viewings",
	Kind: "application",
	Owns: []string{viewingmsg.Category},
}

// Deps are what the application needs.
type Deps struct {
	Store  *messagestore.Store
	Logger *slog.Logger
}

// App is the record-viewings application.
type App struct {
	writer *messagestore.Writer
	log    *slog.Logger
}

// New returns the application; it writes through a writer scoped to Contract.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &App{writer: d.Store.WriterFor(Contract), log: log.With("application", Contract.Name)}
}

// Routes mounts POST /record-viewing/:videoId.
func (a *App) Routes(r app.Router) {
	r.POST("/record-viewing/:videoId", a.recordViewing)
}

// recordViewing records that the visitor (signed in or not) watched the video, then sends them back.
func (a *App) recordViewing(c echo.Context) error {
	videoID, ok := app.ParseID(c.Param("videoId"))
	if !ok {
		return app.BadRequest("That video id is not valid.")
	}
	ctx := c.Request().Context()
	userID := app.UserIDFrom(ctx)
	viewed := messagestore.NewEvent(
		viewingmsg.VideoViewed{UserID: userID, VideoID: videoID},
		messagestore.Metadata{TraceID: app.TraceID(c), UserID: userID},
	)
	if _, err := a.writer.Write(ctx, viewingmsg.StreamName(videoID), messagestore.AnyVersion, viewed); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, backTo(c.Request()))
}

// backTo is where the browser goes after recording: the page it came from when the Referer names a
// page of this site (browsers send the full URL; a bare path is accepted too), else the home page.
func backTo(r *http.Request) string {
	ref := r.Referer()
	if ref == "" {
		return "/"
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "/"
	}
	if u.IsAbs() || u.Host != "" {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host != r.Host || u.User != nil {
			return "/"
		}
		ref = u.RequestURI()
	}
	return app.SafeRedirect(ref, "/")
}
