package creatorsportal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/messagestore"
	"videotutorials/templates"
)

// fileField is the upload form's file field.
const fileField = "video"

// Messages of a refused upload, shown next to the upload form (or on the error page).
const (
	msgNotAVideo = "That file is not a video we can publish. Please upload an MP4, WebM, Ogg (Theora), " +
		"QuickTime, Matroska or AVI video."
	msgNoFile      = "Please choose a video file to upload."
	msgEmptyFile   = "That file is empty. Please choose a video file to upload."
	msgOneFile     = "Please upload one video at a time."
	msgUnreadable  = "The upload could not be read. Please try again."
	msgNoSpace     = "The server has no room for more videos right now. Please try again later."
	msgCannotStore = "The server cannot store videos right now. Please try again later."
)

// tooLarge is the 413 of an upload over the limit. cause is the body limit's *http.MaxBytesError when
// that is what stopped the upload (the shell keeps an error that wraps it).
func (a *App) tooLarge(cause error) error {
	return &app.Error{Status: http.StatusRequestEntityTooLarge, Err: cause,
		Message: fmt.Sprintf("That video is too large: the most we accept is %s.", templates.HumanBytes(a.maxUpload))}
}

// publishVideo receives an upload: it streams the file to disk (checking that it is a video and not
// too large), then asks video-publishing to publish it. A refused upload is answered by uploadRefused.
func (a *App) publishVideo(c echo.Context) error {
	ctx := c.Request().Context()
	videoID := uuid.NewString()
	stored, sourceURI, err := a.receiveUpload(c.Request(), videoID)
	if err != nil {
		return a.uploadRefused(c, err)
	}
	userID, _ := app.CurrentUserID(c)
	cmd := videopublishingmsg.PublishVideo{OwnerID: userID, SourceURI: sourceURI, VideoID: videoID}
	md := messagestore.Metadata{TraceID: app.TraceID(c), UserID: app.UserIDFrom(ctx)}
	if _, err := a.writer.Write(ctx, videopublishingmsg.CommandStreamName(videoID), messagestore.NoStream,
		messagestore.NewEvent(cmd, md)); err != nil {
		_ = os.Remove(stored)
		return err
	}
	app.Logger(c).Info("video uploaded", "videoId", videoID, "sourceUri", cmd.SourceURI)
	return c.Redirect(http.StatusSeeOther, dashboardAfterUpload(videoID))
}

// receiveUpload reads the upload form's multipart body and stores its one file (see receive). It
// returns the stored file's path and media URI, or why the upload is refused; a refused upload leaves
// nothing behind.
func (a *App) receiveUpload(req *http.Request, videoID string) (stored, sourceURI string, err error) {
	mr, err := req.MultipartReader()
	if err != nil {
		return "", "", app.BadRequest(msgNoFile)
	}
	fail := func(err error) (string, string, error) {
		if stored != "" {
			_ = os.Remove(stored)
		}
		return "", "", err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(a.readError(err))
		}
		if part.FormName() != fileField {
			// The CSRF token (already checked) and anything else: read past it; the body limit
			// bounds what this can cost.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return fail(a.readError(err))
			}
			continue
		}
		if stored != "" {
			return fail(app.BadRequest(msgOneFile))
		}
		if stored, sourceURI, err = a.receive(part, videoID); err != nil {
			return fail(err)
		}
	}
	if stored == "" {
		return "", "", app.BadRequest(msgNoFile)
	}
	return stored, sourceURI, nil
}

// uploadRefused answers a refused upload. The creator's own mistakes — not a video, no file, an
// empty file, a body that cannot be read (400), a file too large (413) — posted from the browser's
// form get the dashboard back with that status and the reason next to the upload form, so the
// creator stays where they were. Everything else goes to the shell's error handler as before: the
// server's failures (no space, 500), and clients that are not a page (API and event-stream clients
// get the plain message).
//
// It is the handler's decide-fetch-render: the refusal is decided, then the dashboard's view is
// fetched as GET /creators-portal/ fetches it.
func (a *App) uploadRefused(c echo.Context, refusal error) error {
	var e *app.Error
	if !errors.As(refusal, &e) || e.Message == "" ||
		(e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge) || !wantsPage(c) {
		return refusal
	}
	log := app.Logger(c)
	view, err := a.dashboardView(c)
	if err != nil {
		// The refusal is what the creator needs to hear; the shell's error page still says it.
		if c.Request().Context().Err() == nil {
			log.Error("dashboard of a refused upload", "error", err.Error())
		}
		return refusal
	}
	// The request log line does not carry the refusal (the handler answered): say it here.
	log.Info("upload refused", "status", e.Status, "error", refusal.Error())
	view.UploadError = e.Message
	if e.Status == http.StatusRequestEntityTooLarge {
		// As the shell's 413: the rest of the body may still be in flight; the connection is not reused.
		c.Response().Header().Set(echo.HeaderConnection, "close")
	}
	return renderDashboard(c, e.Status, view)
}

// wantsPage tells a browser (or curl) from API and event-stream clients, as the shell's error handler
// does: only the first get the dashboard back after a refused upload.
func wantsPage(c echo.Context) bool {
	accept := c.Request().Header.Get(echo.HeaderAccept)
	if accept == "" || strings.Contains(accept, "text/html") {
		return true
	}
	return !strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/event-stream")
}

// receive streams one file part into uploads/<videoId>.<ext> and returns its file path and its media
// URI. The type is decided from the first bytes before anything is written; the file only gets its
// final name once it is complete and synced, so a failed or aborted upload leaves nothing behind.
//
// The URI is made by videopublishingmsg.MediaURI, the form the component resolves with
// ResolveMediaURI: the two sides share one definition of where uploads go and how they are named.
func (a *App) receive(part io.Reader, videoID string) (stored, uri string, err error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(part, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", "", a.readError(err)
	}
	head = head[:n]
	if n == 0 {
		return "", "", app.BadRequest(msgEmptyFile)
	}
	ext, ok := sniffVideo(head)
	if !ok {
		return "", "", app.BadRequest(msgNotAVideo)
	}
	dir := filepath.Join(a.mediaDir, videopublishingmsg.UploadsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", storageError(err)
	}
	a.clearStaleParts(dir)
	tmp, err := os.CreateTemp(dir, "."+videoID+partPattern)
	if err != nil {
		return "", "", storageError(err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// One byte more than allowed tells "at the limit" from "over it".
	written, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(head), io.LimitReader(part, a.maxUpload-int64(n)+1)))
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			return "", "", storageError(err)
		}
		return "", "", a.readError(err)
	}
	if written > a.maxUpload {
		return "", "", a.tooLarge(nil)
	}
	if err := tmp.Sync(); err != nil {
		return "", "", storageError(err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", storageError(err)
	}
	name := videoID + ext
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", "", storageError(err)
	}
	done = true
	return final, videopublishingmsg.MediaURI(videopublishingmsg.UploadsDir + "/" + name), nil
}

// partPattern names an upload being received (os.CreateTemp's pattern, after "."+videoID): a hidden
// file that gets its final name once complete.
const partPattern = "-*.part"

// clearStaleParts removes the partial uploads a crash left behind. A process killed while receiving
// an upload (SIGKILL, the OOM killer, a power cut) leaves its .part file, up to MaxUploadBytes, and
// nothing else would ever remove it. A .part file untouched for longer than an upload may take
// (uploadTimeout: the body limit ends slower uploads) belongs to no upload in progress — in this
// process or in another one sharing the media directory — since every upload writes to its file as
// its bytes arrive. It runs on the first upload of a process and then at most once per uploadTimeout;
// failures only cost the space, so they are logged and the upload goes on.
func (a *App) clearStaleParts(dir string) {
	now := time.Now()
	last := a.lastPartsSweep.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < a.uploadTimeout {
		return
	}
	if !a.lastPartsSweep.CompareAndSwap(last, now.UnixNano()) {
		return // another upload is sweeping
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		a.log.Warn("could not look for partial uploads left behind", "dir", dir, "error", err.Error())
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".part") {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) <= a.uploadTimeout {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("could not remove a partial upload left behind", "file", name, "error", err.Error())
			continue
		}
		a.log.Info("removed a partial upload left behind by an interrupted process", "file", name,
			"bytes", info.Size(), "modified", info.ModTime())
	}
}

// readError classifies an error reading the request: over the body limit (413), or a broken upload.
func (a *App) readError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return a.tooLarge(err)
	}
	return &app.Error{Status: http.StatusBadRequest, Message: msgUnreadable, Err: err}
}

// storageError is a failure to store the upload. A media directory that cannot take it is the
// server's condition, said as such (503): out of space, mounted read-only, or not writable by the
// program's user (a volume owned by another user) — an operator's to fix, not a bug; the cause is
// logged. Anything else is a plain 500.
func storageError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return &app.Error{Status: http.StatusServiceUnavailable, Message: msgNoSpace, Err: err}
	case errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return &app.Error{Status: http.StatusServiceUnavailable, Message: msgCannotStore, Err: err}
	}
	return fmt.Errorf("store upload: %w", err)
}

// sniffVideo decides from the first bytes of a file whether it is a video container we publish, and
// returns the extension to store it under. Client-supplied names and types are never trusted.
func sniffVideo(head []byte) (ext string, ok bool) {
	switch {
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		// ISO base media (MP4, QuickTime, 3GP): the major brand says which, and rules out the
		// still-image and audio-only members of the family.
		switch brand := string(head[8:12]); {
		case brand == "qt  ":
			return ".mov", true
		case strings.HasPrefix(brand, "3gp"), strings.HasPrefix(brand, "3g2"):
			return ".3gp", true
		case nonVideoBrands[brand]:
			return "", false
		}
		return ".mp4", true
	case bytes.HasPrefix(head, []byte{0x1a, 0x45, 0xdf, 0xa3}): // EBML: WebM or Matroska
		if bytes.Contains(head, []byte("webm")) {
			return ".webm", true
		}
		return ".mkv", true
	case bytes.HasPrefix(head, []byte("OggS")):
		// Ogg is mostly audio; only a Theora or VP8 stream makes it a video.
		if bytes.Contains(head, []byte("\x80theora")) || bytes.Contains(head, []byte("OVP80")) {
			return ".ogv", true
		}
		return "", false
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI ":
		return ".avi", true
	}
	// Whatever else the standard sniffer recognises as a video.
	switch http.DetectContentType(head) {
	case "video/mp4":
		return ".mp4", true
	case "video/webm":
		return ".webm", true
	case "video/avi":
		return ".avi", true
	}
	return "", false
}

// nonVideoBrands are ISO base media brands of still images (HEIF, AVIF, JPEG 2000) and audio.
var nonVideoBrands = map[string]bool{
	"avif": true, "avis": true, "heic": true, "heix": true, "heim": true, "heis": true, "hevc": true,
	"hevx": true, "mif1": true, "msf1": true, "jp2 ": true, "jpx ": true, "jpm ": true,
	"M4A ": true, "M4B ": true, "M4P ": true, "F4A ": true, "F4B ": true, "crx ": true,
}
