package creatorsportal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/live"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
	"videotutorials/templates"
	"videotutorials/viewdata"
)

// Contract declares the creators portal: it sends commands to video-publishing's inbox.
var Contract = messagestore.Contract{
	Name:    "creators-portal",
	Kind:    "application",
	SendsTo: []string{videopublishingmsg.CommandCategory},
}

// Paths.
const (
	Prefix         = "/creators-portal"
	DashboardPath  = Prefix + "/"
	PublishPath    = Prefix + "/publish-video"
	dashboardLive  = Prefix + "/live"
	videosPrefix   = Prefix + "/videos/"
	operationsPath = Prefix + "/video-operations/"
)

// DefaultMaxUploadBytes is the largest upload when Deps.MaxUploadBytes is not set: 512 MiB.
const DefaultMaxUploadBytes int64 = 512 << 20

// dashboardLimit is how many videos one page of the dashboard lists; a link leads to the older ones.
const dashboardLimit = 200

// Deps are what the creators portal needs.
type Deps struct {
	Store *messagestore.Store // commands are written through a writer scoped to Contract
	Views viewdata.Querier    // the read-only pool
	Hub   *live.Hub           // may be nil: no live updates
	// MediaDir is the media directory (MEDIA_DIRECTORY); uploads go to its uploads/ directory.
	MediaDir string
	// MaxUploadBytes is the largest video file accepted (MAX_UPLOAD_BYTES).
	MaxUploadBytes int64
	// UploadTimeout is how long one upload may take to arrive (default 1 hour).
	UploadTimeout time.Duration
	Logger        *slog.Logger
}

// App is the creators-portal application.
type App struct {
	writer        *messagestore.Writer
	store         *messagestore.Store // reads the uploads' commands (uploadedBy)
	views         viewdata.Querier
	hub           *live.Hub
	mediaDir      string
	maxUpload     int64
	uploadTimeout time.Duration
	log           *slog.Logger
	// lastPartsSweep is when clearStaleParts last looked (Unix nanoseconds; 0: not yet).
	lastPartsSweep atomic.Int64
}

// New returns the application.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &App{
		writer:        d.Store.WriterFor(Contract),
		store:         d.Store,
		views:         d.Views,
		hub:           d.Hub,
		mediaDir:      d.MediaDir,
		maxUpload:     d.MaxUploadBytes,
		uploadTimeout: d.UploadTimeout,
		log:           log.With("application", Contract.Name),
	}
	if a.maxUpload <= 0 {
		a.maxUpload = DefaultMaxUploadBytes
	}
	if a.uploadTimeout <= 0 {
		a.uploadTimeout = time.Hour
	}
	return a
}

// multipartSlack is what the body may hold besides the file: boundaries, part headers, the token.
const multipartSlack = 64 << 10

// Routes mounts the portal under /creators-portal, behind RequireLogin.
func (a *App) Routes(r app.Router) {
	r.GET(Prefix, func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, DashboardPath) })
	g := r.Group(Prefix, app.RequireLogin)
	g.GET("/", a.dashboard)
	g.POST("/publish-video", a.publishVideo, app.BodyLimit(a.maxUpload+multipartSlack, a.uploadTimeout))
	g.GET("/videos/:id", a.video)
	g.POST("/videos/:id/name", a.nameVideo)
	g.POST("/videos/:id/describe", a.describeVideo)
	g.GET("/video-operations/:traceId", a.operation)
	if a.hub != nil {
		g.GET("/live", app.LiveStream(a.hub, func(c echo.Context) (string, error) {
			id, _ := app.CurrentUserID(c)
			return live.DashboardTopic(id), nil
		}))
		g.GET("/video-operations/:traceId/live", app.LiveStream(a.hub, func(c echo.Context) (string, error) {
			// The page's rule: the stream tells the outcome (the video, the rejection reason), so
			// someone else's operation is refused exactly as its page is.
			traceID, _, _, err := a.ownOperation(c)
			if err != nil {
				return "", err
			}
			return live.VideoOperationTopic(traceID), nil
		}))
	}
}

// uuidParam returns a path parameter that must be a UUID, in canonical form (400 otherwise).
func uuidParam(c echo.Context, name string) (string, error) {
	id, ok := app.ParseID(c.Param(name))
	if !ok {
		return "", app.BadRequest("That id is not valid.")
	}
	return id, nil
}

// VideoPath is the owner's page of a video.
func VideoPath(videoID string) string { return videosPrefix + videoID }

// OperationPath is the page of the name/describe request with traceID.
func OperationPath(traceID string) string { return operationsPath + traceID }

// watchPath, filePath and posterPath are the watch application's routes.
func watchPath(videoID string) string  { return "/videos/" + videoID }
func filePath(videoID string) string   { return "/videos/" + videoID + "/file" }
func posterPath(videoID string) string { return "/videos/" + videoID + "/poster" }

// dashboard lists the creator's videos with the upload form.
func (a *App) dashboard(c echo.Context) error {
	view, err := a.dashboardView(c)
	if err != nil {
		return err
	}
	if up, err := uuid.Parse(c.QueryParam("uploaded")); err == nil && view.LatestURL == "" {
		// Just uploaded: the aggregator may not have recorded it yet when the browser gets here. A
		// video the view has with another owner is someone else's: not shown as theirs.
		id := up.String()
		listed := false
		for _, v := range view.Videos {
			listed = listed || v.ID == id
		}
		if !listed {
			// (The view may have recorded the upload between the two reads: the creator's own video
			// is shown as just uploaded.)
			v, err := viewdata.CreatorsVideoByID(c.Request().Context(), a.views, id)
			userID, _ := app.CurrentUserID(c)
			switch {
			case errors.Is(err, viewdata.ErrNotFound):
				// Not recorded yet, or no upload at all (a made-up or mistyped link, or another
				// creator's upload): only the creator's own upload is shown as processing.
				mine, err := a.uploadedBy(c.Request().Context(), id, userID)
				if err != nil {
					return err
				}
				if mine {
					view.JustUploaded = id
				}
			case err == nil && (v.OwnerID == "" || v.OwnerID == userID):
				view.JustUploaded = id
			case err != nil:
				return err
			}
		}
	}
	return renderDashboard(c, http.StatusOK, view)
}

// uploadedBy reports whether userID uploaded the video videoID: its inbox holds the PublishVideo the
// portal wrote for the upload, with the user as its owner.
func (a *App) uploadedBy(ctx context.Context, videoID, userID string) (bool, error) {
	m, err := a.store.LastMessage(ctx, videopublishingmsg.CommandStreamName(videoID), typePublishVideo)
	if err != nil || m == nil {
		return false, err
	}
	var cmd videopublishingmsg.PublishVideo
	if err := m.Decode(&cmd); err != nil {
		return false, nil // not the portal's command: not an upload of this user
	}
	return userID != "" && cmd.OwnerID == userID, nil
}

var typePublishVideo = messagestore.TypeName(videopublishingmsg.PublishVideo{})

// dashboardView fetches what the dashboard shows: a page of the signed-in creator's videos (the
// latest, or those after the video the after parameter names) and the upload form.
func (a *App) dashboardView(c echo.Context) (templates.CreatorsDashboardView, error) {
	userID, _ := app.CurrentUserID(c)
	ctx := c.Request().Context()
	var videos []viewdata.CreatorsVideo
	var err error
	after := c.QueryParam("after")
	if after == "" {
		videos, err = viewdata.VideosOfOwner(ctx, a.views, userID, dashboardLimit+1)
	} else {
		var ok bool
		if after, ok = app.ParseID(after); !ok {
			return templates.CreatorsDashboardView{}, app.BadRequest("That page link is not valid.")
		}
		videos, err = viewdata.VideosOfOwnerAfter(ctx, a.views, userID, after, dashboardLimit+1)
	}
	if err != nil {
		return templates.CreatorsDashboardView{}, err
	}
	view := templates.CreatorsDashboardView{Videos: videos, UploadURL: PublishPath, MaxUploadBytes: a.maxUpload}
	if len(videos) > dashboardLimit {
		view.Videos = videos[:dashboardLimit]
		view.OlderURL = DashboardPath + "?" + url.Values{"after": {view.Videos[dashboardLimit-1].ID}}.Encode()
	}
	if after != "" {
		view.LatestURL = DashboardPath
	}
	if a.hub != nil {
		view.LiveURL = dashboardLive
	}
	return view, nil
}

// renderDashboard writes the dashboard with status: 200, or a refused upload's 400 or 413.
func renderDashboard(c echo.Context, status int, view templates.CreatorsDashboardView) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return app.Render(c, status, templates.CreatorsDashboard(app.PageFor(c, "Creators Portal"), view))
}

// ownVideo returns the video named by the :id parameter if the signed-in user owns it; unknown
// videos and other people's are both 404, so the portal does not tell which ids exist.
func (a *App) ownVideo(c echo.Context) (viewdata.CreatorsVideo, error) {
	id, err := uuidParam(c, "id")
	if err != nil {
		return viewdata.CreatorsVideo{}, err
	}
	v, err := viewdata.CreatorsVideoByID(c.Request().Context(), a.views, id)
	if errors.Is(err, viewdata.ErrNotFound) {
		return v, app.NotFound("There is no such video among yours.")
	}
	if err != nil {
		return v, err
	}
	if userID, _ := app.CurrentUserID(c); v.OwnerID == "" || v.OwnerID != userID {
		return viewdata.CreatorsVideo{}, app.NotFound("There is no such video among yours.")
	}
	return v, nil
}

// video is the owner's page of a video.
func (a *App) video(c echo.Context) error {
	v, err := a.ownVideo(c)
	if err != nil {
		return err
	}
	view := templates.CreatorsVideoView{
		Video:          v,
		WatchURL:       watchPath(v.ID),
		NameURL:        VideoPath(v.ID) + "/name",
		DescribeURL:    VideoPath(v.ID) + "/describe",
		MaxName:        videopublishingmsg.MaxNameLength,
		MaxDescription: videopublishingmsg.MaxDescriptionLength,
	}
	if v.Published() {
		view.FileURL = filePath(v.ID)
		if v.PosterURI != "" {
			view.PosterURL = posterPath(v.ID)
		}
	}
	if a.hub != nil {
		view.LiveURL = dashboardLive
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	// The title says it is the portal's page of the video, not the public watch page of the same name.
	return app.Render(c, http.StatusOK, templates.CreatorsVideoPage(app.PageFor(c, v.DisplayName()+" · Creators Portal"), view))
}

// nameVideo sends NameVideo and shows the operation's page.
func (a *App) nameVideo(c echo.Context) error {
	v, err := a.ownVideo(c)
	if err != nil {
		return err
	}
	form, err := app.FormParams(c)
	if err != nil {
		return err
	}
	name := form.Get("name")
	if err := storableText("name", name); err != nil {
		return err
	}
	return a.send(c, v.ID, videopublishingmsg.NameVideo{Name: name, VideoID: v.ID})
}

// describeVideo sends DescribeVideo and shows the operation's page.
func (a *App) describeVideo(c echo.Context) error {
	v, err := a.ownVideo(c)
	if err != nil {
		return err
	}
	form, err := app.FormParams(c)
	if err != nil {
		return err
	}
	description := typedLineBreaks(form.Get("description"))
	if err := storableText("description", description); err != nil {
		return err
	}
	return a.send(c, v.ID, videopublishingmsg.DescribeVideo{Description: description, VideoID: v.ID})
}

// crlf turns the line breaks of a form's textarea back into what was typed.
var crlf = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// typedLineBreaks returns a textarea's value with the line breaks the user typed: a browser sends each
// as CRLF (the form data set's encoding) while counting it as one character against the field's
// maxlength, so passing the CRLFs on would make a description the form accepted longer than the
// component allows.
func typedLineBreaks(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return crlf.Replace(s)
}

// storableText refuses (400) a value the command cannot carry as it was sent: a NUL byte cannot be
// stored in jsonb (writing the command would fail with a 500), and bytes that are not UTF-8 would
// reach the component as U+FFFD, JSON's stand-in, so the component could not refuse them and the
// video would be named with replacement characters. Everything else is the component's to judge.
func storableText(field, value string) error {
	if !app.CleanText(value) {
		return app.BadRequest("The " + field + " contains a character that is not allowed.")
	}
	return nil
}

// send writes a command to the video's inbox with the request's trace id and acting user, and sends
// the browser to the operation's page, which the trace id names.
func (a *App) send(c echo.Context, videoID string, cmd any) error {
	ctx := c.Request().Context()
	traceID := app.TraceID(c)
	md := messagestore.Metadata{TraceID: traceID, UserID: app.UserIDFrom(ctx)}
	if _, err := a.writer.Write(ctx, videopublishingmsg.CommandStreamName(videoID), messagestore.AnyVersion,
		messagestore.NewEvent(cmd, md)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, OperationPath(traceID))
}

// ownOperation looks up the operation named by the :traceId parameter for the signed-in user. An
// operation the view does not have yet is pending (known false): nothing says whose it is, and its
// page says only "pending". A recorded operation on someone else's video — or on a video the view
// does not have — is a 404, so the portal does not tell which operations exist.
func (a *App) ownOperation(c echo.Context) (traceID string, op viewdata.VideoOperation, known bool, err error) {
	traceID, err = uuidParam(c, "traceId")
	if err != nil {
		return "", op, false, err
	}
	ctx := c.Request().Context()
	op, err = viewdata.VideoOperationByTraceID(ctx, a.views, traceID)
	if errors.Is(err, viewdata.ErrNotFound) {
		return traceID, op, false, nil
	}
	if err != nil {
		return "", op, false, fmt.Errorf("video operation %s: %w", traceID, err)
	}
	v, err := viewdata.CreatorsVideoByID(ctx, a.views, op.VideoID)
	if err != nil && !errors.Is(err, viewdata.ErrNotFound) {
		return "", op, false, fmt.Errorf("video %s of operation %s: %w", op.VideoID, traceID, err)
	}
	if userID, _ := app.CurrentUserID(c); v.OwnerID == "" || v.OwnerID != userID {
		return "", viewdata.VideoOperation{}, false, app.NotFound("")
	}
	return traceID, op, true, nil
}

// operation shows the outcome of a name or describe request: pending, rejected, or — succeeded — a
// redirect to the video.
func (a *App) operation(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	traceID, op, known, err := a.ownOperation(c)
	if err != nil {
		return err
	}
	if !known {
		view := templates.VideoOperationView{Pending: true, SelfURL: OperationPath(traceID)}
		if a.hub != nil {
			view.LiveURL = OperationPath(traceID) + "/live"
		}
		return app.Render(c, http.StatusOK, templates.VideoOperation(app.PageFor(c, "Saving your change"), view))
	}
	if op.Succeeded {
		shows, err := viewdata.VideoShowsOperation(c.Request().Context(), a.views, traceID)
		if err != nil {
			return err
		}
		if shows {
			return c.Redirect(http.StatusSeeOther, VideoPath(op.VideoID))
		}
		// Decided, but the video's page would still show it as before: pending a moment more. The
		// page reloads itself rather than listen, because the operation's live event has been sent
		// (a replay of it would reload the page at once, again and again while the view lags).
		c.Response().Header().Set("Refresh", "1")
		view := templates.VideoOperationView{Pending: true, SelfURL: OperationPath(traceID)}
		return app.Render(c, http.StatusOK, templates.VideoOperation(app.PageFor(c, "Saving your change"), view))
	}
	view := templates.VideoOperationView{Kind: op.Kind, Reason: op.FailureReason, VideoURL: VideoPath(op.VideoID),
		SelfURL: OperationPath(traceID)}
	return app.Render(c, http.StatusOK, templates.VideoOperation(app.PageFor(c, "Change not saved"), view))
}

// dashboardAfterUpload is where an upload sends the browser.
func dashboardAfterUpload(videoID string) string {
	return DashboardPath + "?" + url.Values{"uploaded": {videoID}}.Encode()
}
