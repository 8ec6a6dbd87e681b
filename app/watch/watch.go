package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
	"videotutorials/templates"
	"videotutorials/viewdata"
)

// Contract declares the watch application: it reads view data and writes no messages.
var Contract = messagestore.Contract{Name: "watch", Kind: "application"}

// Deps are what the watch application needs.
type Deps struct {
	Views    viewdata.Querier // the read-only pool
	MediaDir string           // MEDIA_DIRECTORY
	Logger   *slog.Logger
	// DownloadTimeout is how long one file response may take (default 2 hours).
	DownloadTimeout time.Duration
}

// App is the watch application.
type App struct {
	views           viewdata.Querier
	mediaDir        string
	log             *slog.Logger
	downloadTimeout time.Duration
}

// New returns the application.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &App{views: d.Views, mediaDir: d.MediaDir, log: log.With("application", Contract.Name), downloadTimeout: d.DownloadTimeout}
	if a.downloadTimeout <= 0 {
		a.downloadTimeout = 2 * time.Hour
	}
	return a
}

// Routes mounts the video index, the watch page and its files.
func (a *App) Routes(r app.Router) {
	r.GET("/videos", a.index)
	r.GET("/videos/:id", a.page)
	r.GET("/videos/:id/file", a.file)
	r.HEAD("/videos/:id/file", a.file)
	r.GET("/videos/:id/poster", a.poster)
	r.HEAD("/videos/:id/poster", a.poster)
}

// VideoPath is the watch page of a video.
func VideoPath(videoID string) string { return "/videos/" + videoID }

func recordViewingPath(videoID string) string { return "/record-viewing/" + videoID }

// indexPage is how many videos a page of the video index lists (as many as the home page).
const indexPage = 24

// index lists the published videos, the latest upload first, a page at a time: ?after=<id> starts
// after that video (the last one of the previous page).
func (a *App) index(c echo.Context) error {
	ctx := c.Request().Context()
	var videos []viewdata.CreatorsVideo
	var err error
	view := templates.VideoIndexView{}
	if after := c.QueryParam("after"); after != "" {
		id, ok := app.ParseID(after)
		if !ok {
			return app.BadRequest("That page of videos is not valid.")
		}
		view.LatestURL = "/videos"
		videos, err = viewdata.PublishedVideosAfter(ctx, a.views, id, indexPage+1)
	} else {
		videos, err = viewdata.PublishedVideos(ctx, a.views, indexPage+1)
	}
	if err != nil {
		return err
	}
	if len(videos) > indexPage {
		videos = videos[:indexPage]
		view.OlderURL = "/videos?after=" + videos[indexPage-1].ID
	}
	view.Videos = videos
	return app.Render(c, http.StatusOK, templates.VideoIndex(app.PageFor(c, "Videos"), view))
}

// published returns the published video named by :id (400 for a malformed id, 404 otherwise).
func (a *App) published(c echo.Context) (viewdata.CreatorsVideo, error) {
	s := c.Param("id")
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return viewdata.CreatorsVideo{}, app.BadRequest("That video id is not valid.")
	}
	v, err := viewdata.CreatorsVideoByID(c.Request().Context(), a.views, id.String())
	if errors.Is(err, viewdata.ErrNotFound) || (err == nil && !v.Published()) {
		return viewdata.CreatorsVideo{}, app.NotFound("There is no such video.")
	}
	return v, err
}

// page renders the watch page.
func (a *App) page(c echo.Context) error {
	v, err := a.published(c)
	if err != nil {
		return err
	}
	view := templates.WatchView{
		Video:            v,
		FileURL:          VideoPath(v.ID) + "/file",
		FileType:         contentType(v.TranscodedURI),
		RecordViewingURL: recordViewingPath(v.ID),
	}
	if v.PosterURI != "" {
		view.PosterURL = VideoPath(v.ID) + "/poster"
	}
	return app.Render(c, http.StatusOK, templates.Watch(app.PageFor(c, v.DisplayName()), view))
}

// file serves the video file with range requests.
func (a *App) file(c echo.Context) error {
	v, err := a.published(c)
	if err != nil {
		return err
	}
	return a.serve(c, v.TranscodedURI)
}

// poster serves the poster image.
func (a *App) poster(c echo.Context) error {
	v, err := a.published(c)
	if err != nil {
		return err
	}
	if v.PosterURI == "" {
		return app.NotFound("This video has no poster.")
	}
	return a.serve(c, v.PosterURI)
}

// serve answers with the file a media URI names. The files of a video never change once published
// (new uploads get new ids), so they may be cached; ServeContent handles Range, If-Range,
// If-Modified-Since and HEAD.
func (a *App) serve(c echo.Context, uri string) error {
	p, err := videopublishingmsg.ResolveMediaURI(a.mediaDir, uri)
	if err != nil {
		// The view names no file of the media directory: an event from another Message DB client
		// (VideoPublished with no or a foreign URI). There is nothing to serve, and nothing the
		// visitor can do about it.
		a.log.Error("a published video names no media file", "uri", uri, "err", err)
		return app.NotFound("The file of this video is missing.")
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		a.log.Error("a published video's file is missing", "uri", uri)
		return app.NotFound("The file of this video is missing.")
	}
	if err != nil {
		return fmt.Errorf("video file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("video file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("video file %s is not a regular file", uri)
	}
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, contentType(uri))
	h.Set(echo.HeaderCacheControl, "public, max-age=86400")
	h.Set("Accept-Ranges", "bytes")
	// A long video outlasts the server's write timeout and the request deadline (the latter is for
	// waiting on the database, done by now); this response gets a write timeout of its own.
	_ = http.NewResponseController(res).SetWriteDeadline(time.Now().Add(a.downloadTimeout))
	app.LiftRequestDeadline(c)
	return app.ServeContent(c, withoutForeignRange(c.Request()), "", st.ModTime(), f, msgRangeRefused)
}

const msgRangeRefused = "That part of the video does not exist. Reload the page to play the video from the start."

// withoutForeignRange drops a Range header whose unit is not bytes: HTTP says a server ignores a
// range unit it does not know and sends the whole file, and ServeContent would answer 416 instead.
func withoutForeignRange(r *http.Request) *http.Request {
	rng := r.Header.Get("Range")
	if rng == "" || strings.HasPrefix(strings.TrimSpace(rng), "bytes=") {
		return r
	}
	r = r.Clone(r.Context())
	r.Header.Del("Range")
	return r
}

// contentTypes maps the extensions the portal and video-publishing give files to their MIME types.
var contentTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".mov":  "video/quicktime",
	".3gp":  "video/3gpp",
	".webm": "video/webm",
	".mkv":  "video/x-matroska",
	".ogv":  "video/ogg",
	".avi":  "video/x-msvideo",
	".jpg":  "image/jpeg",
}

func contentType(uri string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(uri))]; ok {
		return ct
	}
	return "application/octet-stream"
}
