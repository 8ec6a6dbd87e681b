package creatorsportal_test

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/creatorsportal"
	"videotutorials/app/live"
	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

// fixture is the portal on a media directory of its own.
type fixture struct {
	b        *apptest.Browser
	store    *messagestore.Store
	mediaDir string
	hub      *live.Hub
	user     string
}

const testMaxUpload = 64 << 10

func setup(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.NewPool(t)
	f := &fixture{store: messagestore.New(pool, messagestore.Options{Logger: testdb.Quiet}), mediaDir: t.TempDir(),
		hub: live.NewHub(live.Options{}), user: uuid.NewString()}
	portal := creatorsportal.New(creatorsportal.Deps{Store: f.store, Views: pool, Hub: f.hub, MediaDir: f.mediaDir,
		MaxUploadBytes: testMaxUpload, Logger: testdb.Quiet})
	f.b = apptest.NewBrowser(t, apptest.NewServer(t, app.Deps{}, portal))
	f.b.SignIn(f.user)
	return f
}

// uploads lists what is in the uploads directory (nothing must be left behind by a refused upload).
func (f *fixture) uploads(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.mediaDir, "uploads"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

var webmHead = []byte("\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04")

func TestAnonymousVisitorsAreSentToLogIn(t *testing.T) {
	pool := testdb.NewPool(t)
	srv := apptest.NewServer(t, app.Deps{}, creatorsportal.New(creatorsportal.Deps{Store: messagestore.New(pool, messagestore.Options{}),
		Views: pool, MediaDir: t.TempDir()}))
	b := apptest.NewBrowser(t, srv)
	for _, path := range []string{"/creators-portal/", "/creators-portal/videos/" + uuid.NewString()} {
		rec := b.Get(path)
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != "/auth/log-in?next="+url.QueryEscape(path) {
			t.Errorf("%s → %q", path, loc)
		}
	}
	if rec := b.Get("/creators-portal"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/creators-portal/" {
		t.Errorf("/creators-portal → %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestUploadStoresTheFileAndSendsPublishVideo(t *testing.T) {
	f := setup(t)
	content := append(append([]byte{}, webmHead...), bytes.Repeat([]byte("frame "), 5000)...)
	rec := upload(f.b, "holiday.mp4", content) // the client's name and extension mean nothing
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Path != "/creators-portal/" {
		t.Fatalf("Location %q", rec.Header().Get("Location"))
	}
	videoID := loc.Query().Get("uploaded")
	if uuid.Validate(videoID) != nil {
		t.Fatalf("no video id in %s", loc)
	}
	stored, err := os.ReadFile(filepath.Join(f.mediaDir, "uploads", videoID+".webm"))
	if err != nil || !bytes.Equal(stored, content) {
		t.Fatalf("stored upload (%d bytes, %v) differs", len(stored), err)
	}
	if names := f.uploads(t); len(names) != 1 {
		t.Errorf("uploads directory: %v", names)
	}
	msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(videoID))
	if len(msgs) != 1 || msgs[0].Type != "PublishVideo" {
		t.Fatalf("command stream %+v", msgs)
	}
	var cmd videopublishingmsg.PublishVideo
	if err := msgs[0].Decode(&cmd); err != nil {
		t.Fatal(err)
	}
	want := videopublishingmsg.PublishVideo{OwnerID: f.user, SourceURI: "file:uploads/" + videoID + ".webm", VideoID: videoID}
	if cmd != want {
		t.Errorf("PublishVideo %+v, want %+v", cmd, want)
	}
	// The URI is the shared media-URI form: video-publishing's resolver finds the very file stored.
	if path, err := videopublishingmsg.ResolveMediaURI(f.mediaDir, cmd.SourceURI); err != nil ||
		path != filepath.Join(f.mediaDir, videopublishingmsg.UploadsDir, videoID+".webm") {
		t.Errorf("source URI %q resolves to %q (%v)", cmd.SourceURI, path, err)
	}
	if md := msgs[0].Metadata; md.UserID != f.user || md.TraceID != rec.Header().Get("X-Trace-Id") {
		t.Errorf("metadata %+v", md)
	}
	// The dashboard shows the upload as processing even before the view has it.
	page := f.b.Get(loc.String())
	apptest.WantStatus(t, page, http.StatusOK)
	for _, s := range []string{`id="video-` + videoID + `"`, "Processing", "Untitled", `data-live-field="` + videoID + `.status"`, `data-live-field="` + videoID + `.description"`} {
		if !strings.Contains(page.Body.String(), s) {
			t.Errorf("dashboard lacks %q", s)
		}
	}
}

func TestUploadAtTheLimitIsAccepted(t *testing.T) {
	f := setup(t)
	content := append(append([]byte{}, webmHead...), bytes.Repeat([]byte{7}, testMaxUpload-len(webmHead))...)
	apptest.WantStatus(t, upload(f.b, "a.webm", content), http.StatusSeeOther)
}

// The messages of refused uploads, as the creator reads them.
const (
	msgNotAVideo  = "That file is not a video we can publish. Please upload an MP4, WebM, Ogg (Theora), QuickTime, Matroska or AVI video."
	msgNoFile     = "Please choose a video file to upload."
	msgEmptyFile  = "That file is empty. Please choose a video file to upload."
	msgOneFile    = "Please upload one video at a time."
	msgUnreadable = "The upload could not be read. Please try again."
	msgTooLarge   = "That video is too large: the most we accept is 64 KiB."
)

// A refused upload gives the creator the dashboard back — their videos as usual — with the refusal's
// status and its reason next to the upload form, announced and tied to the file input.
func TestUploadsThatAreRefused(t *testing.T) {
	f := setup(t)
	mine := uuid.NewString()
	testdb.InsertVideo(t, testdb.NewPool(t), testdb.VideoRow{ID: mine, Owner: f.user, Name: "My first tutorial", Status: "published"})
	file := func(filename string, content []byte) func(testing.TB, string) ([]byte, string) {
		return func(t testing.TB, token string) ([]byte, string) {
			return uploadBody(t, token, "video", filename, content)
		}
	}
	raw := func(contentType, body string) func(testing.TB, string) ([]byte, string) {
		return func(_ testing.TB, token string) ([]byte, string) {
			return []byte(strings.ReplaceAll(body, "TOKEN", token)), contentType
		}
	}
	const tokenPart = "--B\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nTOKEN\r\n"
	cases := []struct {
		name    string
		body    func(t testing.TB, token string) (body []byte, contentType string)
		status  int
		message string
	}{
		{"text", file("notes.mp4", []byte("just some text, certainly not a video\n")), 400, msgNotAVideo},
		{"png", file("pic.webm", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")), 400, msgNotAVideo},
		{"html", file("page.mp4", []byte("<!DOCTYPE html><html><script>alert(1)</script>")), 400, msgNotAVideo},
		{"audio-only ogg", file("song.ogv", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1e\x01vorbis\x00\x00\x00\x00")), 400, msgNotAVideo},
		{"m4a", file("song.mp4", []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00M4A isom")), 400, msgNotAVideo},
		{"avif", file("pic.mp4", []byte("\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1")), 400, msgNotAVideo},
		{"empty", file("empty.mp4", nil), 400, msgEmptyFile},
		{"no file", file("", nil), 400, msgNoFile},
		{"wrong field", func(t testing.TB, token string) ([]byte, string) {
			return uploadBody(t, token, "file", "a.webm", webmHead)
		}, 400, msgNoFile},
		{"two files", func(t testing.TB, token string) ([]byte, string) {
			var buf bytes.Buffer
			w := multipart.NewWriter(&buf)
			_ = w.WriteField("_csrf", token)
			for _, name := range []string{"a.webm", "b.webm"} {
				fw, _ := w.CreateFormFile("video", name)
				fw.Write(webmHead)
			}
			w.Close()
			return buf.Bytes(), w.FormDataContentType()
		}, 400, msgOneFile},
		{"not multipart", func(_ testing.TB, token string) ([]byte, string) {
			return []byte(url.Values{"_csrf": {token}, "video": {"a.webm"}}.Encode()), "application/x-www-form-urlencoded"
		}, 400, msgNoFile},
		{"malformed part", raw("multipart/form-data; boundary=B", tokenPart+"--B\r\nnot a header line\r\n\r\nx\r\n--B--\r\n"), 400, msgUnreadable},
		{"truncated body", raw("multipart/form-data; boundary=B", tokenPart+
			"--B\r\nContent-Disposition: form-data; name=\"video\"; filename=\"a.webm\"\r\n\r\n"+string(webmHead)+strings.Repeat("frame ", 200)), 400, msgUnreadable},
		{"too large", file("big.webm", append(append([]byte{}, webmHead...), bytes.Repeat([]byte{1}, testMaxUpload)...)), 413, msgTooLarge},
		{"far too large", file("huge.webm", append(append([]byte{}, webmHead...), bytes.Repeat([]byte{1}, 4*testMaxUpload)...)), 413, msgTooLarge},
	}
	var refused *httptest.ResponseRecorder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, contentType := tc.body(t, f.b.CSRF("/creators-portal/"))
			rec := postUpload(f.b, body, contentType, "")
			apptest.WantStatus(t, rec, tc.status)
			wantUploadError(t, rec, tc.message)
			// The rest of the dashboard is there as usual.
			page := rec.Body.String()
			for _, s := range []string{`<h1 id="creators-heading">`, `id="video-` + mine + `"`, "My first tutorial",
				`data-live-src="/creators-portal/live"`, `action="/creators-portal/publish-video"`, `name="_csrf"`} {
				if !strings.Contains(page, s) {
					t.Errorf("refused upload's dashboard lacks %q", s)
				}
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if conn := rec.Header().Get("Connection"); (tc.status == 413) != (conn == "close") {
				t.Errorf("status %d with Connection %q", tc.status, conn)
			}
			if names := f.uploads(t); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
			refused = rec
		})
	}
	// The form on the refused upload's page works: the creator picks another file and sends it.
	if refused != nil {
		token := csrfToken.FindStringSubmatch(refused.Body.String())
		if token == nil {
			t.Fatal("no CSRF token on the refused upload's page")
		}
		body, contentType := uploadBody(t, token[1], "video", "good.webm", webmHead)
		rec := postUpload(f.b, body, contentType, "")
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, "/creators-portal/?uploaded=") {
			t.Errorf("Location %q", loc)
		}
	}
}

var (
	csrfToken     = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	uploadForm    = regexp.MustCompile(`(?s)<form id="upload-form".*?</form>`)
	fileInput     = regexp.MustCompile(`<input id="video-file"[^>]*>`)
	uploadErrorEl = regexp.MustCompile(`<p id="video-file-error"([^>]*)>([^<]*)</p>`)
)

// wantUploadError checks that the page shows message in the upload form, as an alert that the file
// input is described by (and marked invalid).
func wantUploadError(t *testing.T, rec *httptest.ResponseRecorder, message string) {
	t.Helper()
	form := uploadForm.FindString(rec.Body.String())
	if form == "" {
		t.Fatalf("no upload form:\n%s", rec.Body.String())
	}
	m := uploadErrorEl.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no upload error in the form:\n%s", form)
	}
	if !strings.Contains(m[1], `role="alert"`) || !strings.Contains(m[1], `class="field__error"`) {
		t.Errorf("upload error's attributes: %s", m[1])
	}
	if got := html.UnescapeString(m[2]); got != message {
		t.Errorf("upload error %q, want %q", got, message)
	}
	input := fileInput.FindString(form)
	for _, attr := range []string{`aria-describedby="video-file-hint video-file-error"`, `aria-invalid="true"`, "autofocus"} {
		if !strings.Contains(input, attr) {
			t.Errorf("file input lacks %s: %s", attr, input)
		}
	}
	if n := strings.Count(rec.Body.String(), `id="video-file-error"`); n != 1 {
		t.Errorf("%d upload errors on the page", n)
	}
}

// Clients that are not a page (an API or event-stream client) keep the plain error.
func TestRefusedUploadIsPlainForClientsThatAreNotAPage(t *testing.T) {
	f := setup(t)
	for _, accept := range []string{"application/json", "text/event-stream"} {
		for _, tc := range []struct {
			content []byte
			status  int
			message string
		}{
			{[]byte("not a video"), 400, msgNotAVideo},
			{append(append([]byte{}, webmHead...), bytes.Repeat([]byte{1}, 4*testMaxUpload)...), 413, msgTooLarge},
		} {
			body, contentType := uploadBody(t, f.b.CSRF("/creators-portal/"), "video", "a.webm", tc.content)
			rec := postUpload(f.b, body, contentType, accept)
			apptest.WantStatus(t, rec, tc.status)
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || rec.Body.String() != tc.message {
				t.Errorf("Accept %s: %s %q, want the plain message %q", accept, ct, rec.Body.String(), tc.message)
			}
		}
	}
}

func TestUploadNeedsTheCSRFToken(t *testing.T) {
	f := setup(t)
	req := httptest.NewRequest(http.MethodPost, "/creators-portal/publish-video", strings.NewReader("--x\r\n\r\n--x--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	apptest.WantStatus(t, f.b.Do(req), http.StatusForbidden)
}

func TestSniffingRealContainers(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not installed")
	}
	f := setup(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		out, want string
		args      []string
	}{
		{"a.mp4", ".mp4", []string{"-c:v", "libx264"}},
		{"a.mov", ".mov", []string{"-c:v", "libx264"}},
		{"a.webm", ".webm", []string{"-c:v", "libvpx"}},
		{"a.mkv", ".mkv", []string{"-c:v", "libx264"}},
		{"a.ogv", ".ogv", []string{"-c:v", "libtheora"}},
		{"a.avi", ".avi", []string{"-c:v", "mpeg4"}},
	} {
		out := filepath.Join(dir, tc.out)
		args := append([]string{"-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=0.3:size=64x48:rate=10"}, tc.args...)
		cmd := exec.CommandContext(context.Background(), ffmpeg, append(args, out)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Logf("cannot make %s (%v): %s", tc.out, err, b)
			continue
		}
		content, _ := os.ReadFile(out)
		rec := upload(f.b, "x", content)
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		loc, _ := url.Parse(rec.Header().Get("Location"))
		videoID := loc.Query().Get("uploaded")
		if _, err := os.Stat(filepath.Join(f.mediaDir, "uploads", videoID+tc.want)); err != nil {
			t.Errorf("%s: not stored as %s: %v", tc.out, tc.want, err)
		}
		// The command names the stored file, extension included, as video-publishing resolves it.
		var publish videopublishingmsg.PublishVideo
		if msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(videoID)); len(msgs) != 1 || msgs[0].Decode(&publish) != nil {
			t.Errorf("%s: command stream %+v", tc.out, msgs)
		} else if path, err := videopublishingmsg.ResolveMediaURI(f.mediaDir, publish.SourceURI); err != nil ||
			path != filepath.Join(f.mediaDir, "uploads", videoID+tc.want) {
			t.Errorf("%s: source URI %q resolves to %q (%v)", tc.out, publish.SourceURI, path, err)
		}
	}
}

func TestDashboardListsOnlyTheUsersVideos(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	mine, theirs := uuid.NewString(), uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: mine, Owner: f.user, Name: "My <b>tutorial</b>", Description: "About Go", Status: "published", Views: 42,
		Transcoded: "file:videos/" + mine + ".mp4", Poster: "file:posters/" + mine + ".jpg"})
	failed := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: failed, Owner: f.user, Status: "failed", Reason: "The file could not be transcoded: junk"})
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: theirs, Owner: uuid.NewString(), Name: "Not mine", Status: "published"})
	rec := f.b.Get("/creators-portal/")
	apptest.WantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for _, s := range []string{"My &lt;b&gt;tutorial&lt;/b&gt;", "About Go", ">42<", "Published", "Untitled", "Failed",
		"The file could not be transcoded: junk", `src="/videos/` + mine + `/poster"`, `data-live-src="/creators-portal/live"`,
		`enctype="multipart/form-data"`, "up to 64 KiB", `aria-describedby="video-file-hint"`} {
		if !strings.Contains(body, s) {
			t.Errorf("dashboard lacks %q", s)
		}
	}
	if strings.Contains(body, "video-file-error") || strings.Contains(body, `aria-invalid`) {
		t.Errorf("dashboard shows an upload error without a refused upload")
	}
	if strings.Contains(body, "Not mine") || strings.Contains(body, theirs) {
		t.Errorf("dashboard shows another creator's video")
	}
}

func TestVideoPageIsTheOwnersOnly(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	mine, theirs := uuid.NewString(), uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: mine, Owner: f.user, Name: "Mine", Description: "Desc", Status: "published",
		Transcoded: "file:videos/" + mine + ".mp4", Poster: "file:posters/" + mine + ".jpg"})
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: theirs, Owner: uuid.NewString(), Name: "Theirs", Status: "published"})
	rec := f.b.Get("/creators-portal/videos/" + mine)
	apptest.WantStatus(t, rec, http.StatusOK)
	for _, s := range []string{`<video`, `src="/videos/` + mine + `/file"`, `poster="/videos/` + mine + `/poster"`,
		`action="/creators-portal/videos/` + mine + `/name"`, `action="/creators-portal/videos/` + mine + `/describe"`,
		`value="Mine"`, ">Desc</textarea>", `maxlength="255"`, `maxlength="5000"`,
		// Its title tells it apart from the public watch page of the same video.
		"<title>Mine · Creators Portal · Video Tutorials</title>"} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("video page lacks %q", s)
		}
	}
	apptest.WantStatus(t, f.b.Get("/creators-portal/videos/"+theirs), http.StatusNotFound)
	apptest.WantStatus(t, f.b.Get("/creators-portal/videos/"+uuid.NewString()), http.StatusNotFound)
	apptest.WantStatus(t, f.b.Get("/creators-portal/videos/not-a-uuid"), http.StatusBadRequest)
	// Nor can a rename be sent for someone else's video.
	rec = f.b.Submit("/creators-portal/", "/creators-portal/videos/"+theirs+"/name", url.Values{"name": {"Mine now"}})
	apptest.WantStatus(t, rec, http.StatusNotFound)
	if msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(theirs)); len(msgs) != 0 {
		t.Errorf("a command was written for another creator's video: %+v", msgs)
	}
}

func TestNameAndDescribeSendCommandsAndShowTheOperation(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Status: "published", Transcoded: "file:videos/" + videoID + ".mp4"})
	page := "/creators-portal/videos/" + videoID
	long := strings.Repeat("x", 300) // passed on as typed: the component decides
	for _, tc := range []struct {
		path, field, value, typ string
	}{
		{page + "/name", "name", long, "NameVideo"},
		{page + "/describe", "description", "A description", "DescribeVideo"},
	} {
		rec := f.b.Submit(page, tc.path, url.Values{tc.field: {tc.value}})
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		traceID := rec.Header().Get("X-Trace-Id")
		if loc := rec.Header().Get("Location"); loc != "/creators-portal/video-operations/"+traceID {
			t.Fatalf("Location %q, want the operation of trace %s", loc, traceID)
		}
		msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(videoID))
		last := msgs[len(msgs)-1]
		var data map[string]string
		if err := last.Decode(&data); err != nil {
			t.Fatal(err)
		}
		if last.Type != tc.typ || data[tc.field] != tc.value || data["videoId"] != videoID ||
			last.Metadata.TraceID != traceID || last.Metadata.UserID != f.user {
			t.Errorf("%s: %s %v %+v", tc.path, last.Type, data, last.Metadata)
		}
	}
}

func TestOperationPage(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID, otherVideo := uuid.NewString(), uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Status: "published"})
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: otherVideo, Owner: uuid.NewString(), Status: "published"})
	pending, succeeded, rejected, others := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	insertOperation(t, pool, succeeded, videoID, "name", true, "")
	insertOperation(t, pool, rejected, videoID, "name", false, "The name is longer than 255 characters.")
	insertOperation(t, pool, others, otherVideo, "name", true, "")
	// The video's row has applied the operations' event (position 1), as it has by the time it shows the change.
	if _, err := pool.Exec(ctx, `UPDATE creators_portal_videos SET position = 1 WHERE id = $1`, videoID); err != nil {
		t.Fatal(err)
	}

	rec := f.b.Get("/creators-portal/video-operations/" + pending)
	apptest.WantStatus(t, rec, http.StatusOK)
	for _, s := range []string{"Pending", `data-live-src="/creators-portal/video-operations/` + pending + `/live"`, `data-live-field="reason"`} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("pending page lacks %q", s)
		}
	}
	rec = f.b.Get("/creators-portal/video-operations/" + succeeded)
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/creators-portal/videos/"+videoID {
		t.Errorf("success → %q", loc)
	}
	rec = f.b.Get("/creators-portal/video-operations/" + rejected)
	apptest.WantStatus(t, rec, http.StatusOK)
	if body := rec.Body.String(); !strings.Contains(body, "The name is longer than 255 characters.") ||
		!strings.Contains(body, "Your video's name was not saved") || strings.Contains(body, "data-live-src") {
		t.Errorf("rejected page:\n%s", body)
	}
	apptest.WantStatus(t, f.b.Get("/creators-portal/video-operations/"+others), http.StatusNotFound)
	apptest.WantStatus(t, f.b.Get("/creators-portal/video-operations/nope"), http.StatusBadRequest)
}

func TestOperationPageIsToldTheOutcomeLive(t *testing.T) {
	f := setup(t)
	traceID := uuid.NewString()
	// The aggregator published before the page connected: the hub replays it.
	f.hub.Publish(live.VideoOperationTopic(traceID), live.EventReload, "")
	c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/creators-portal/video-operations/"+traceID+"/live", nil).WithContext(c)
	req.Header.Set("Accept", "text/event-stream")
	rec := f.b.Do(req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") ||
		!strings.Contains(rec.Body.String(), "event: reload\n") {
		t.Errorf("stream %q:\n%s", ct, rec.Body.String())
	}
}

// liveOperation opens the live stream of an operation for a moment and returns what it got.
func liveOperation(b *apptest.Browser, traceID string) *httptest.ResponseRecorder {
	b.T.Helper()
	c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/creators-portal/video-operations/"+traceID+"/live", nil).WithContext(c)
	req.Header.Set("Accept", "text/event-stream")
	return b.Do(req)
}

// The live stream of an operation follows the page's rule: someone else's operation is a 404 (its
// outcome would tell the video and the rejection reason), the owner's streams.
func TestOperationLiveStreamIsTheOwnersOnly(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID, traceID := uuid.NewString(), uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Status: "published"})
	insertOperation(t, pool, traceID, videoID, "name", false, "The name is blank.")
	f.hub.Publish(live.VideoOperationTopic(traceID), live.EventUpdate, "The name is blank.")

	other := apptest.NewBrowser(t, f.b.Server)
	other.SignIn(uuid.NewString())
	apptest.WantStatus(t, other.Get("/creators-portal/video-operations/"+traceID), http.StatusNotFound) // the page
	rec := liveOperation(other, traceID)
	apptest.WantStatus(t, rec, http.StatusNotFound)
	if strings.Contains(rec.Body.String(), "The name is blank.") || strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		t.Errorf("someone else's operation streamed %q:\n%s", rec.Header().Get("Content-Type"), rec.Body.String())
	}

	rec = liveOperation(f.b, traceID)
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") ||
		!strings.Contains(rec.Body.String(), "event: update\ndata: The name is blank.") {
		t.Errorf("owner's stream %d %q:\n%s", rec.Code, ct, rec.Body.String())
	}

	// An operation of a video that is not in the view (nobody's, as far as the portal knows) is
	// refused like the page refuses it.
	orphan := uuid.NewString()
	insertOperation(t, pool, orphan, uuid.NewString(), "describe", true, "")
	apptest.WantStatus(t, f.b.Get("/creators-portal/video-operations/"+orphan), http.StatusNotFound)
	apptest.WantStatus(t, liveOperation(f.b, orphan), http.StatusNotFound)
	apptest.WantStatus(t, liveOperation(f.b, "not-a-uuid"), http.StatusBadRequest)
}

// A browser sends a textarea's line breaks as CRLF, but counts each as one character against its
// maxlength: the description is passed on with LF line breaks, so that a description the form accepted
// (5000 characters with line breaks) is not refused by the component as longer than 5000.
func TestDescriptionLineBreaksArePassedOnAsTyped(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Status: "published", Transcoded: "file:videos/" + videoID + ".mp4"})
	page := "/creators-portal/videos/" + videoID
	typed := strings.Repeat(strings.Repeat("x", 99)+"\n", videopublishingmsg.MaxDescriptionLength/100)
	sent := strings.ReplaceAll(typed, "\n", "\r\n") // the form data set of the textarea
	rec := f.b.Submit(page, page+"/describe", url.Values{"description": {sent}})
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(videoID))
	var cmd videopublishingmsg.DescribeVideo
	if err := msgs[len(msgs)-1].Decode(&cmd); err != nil {
		t.Fatal(err)
	}
	if cmd.Description != typed {
		t.Errorf("description sent as %q…, want the text as typed (LF line breaks, %d characters)", cmd.Description[:120], len(typed))
	}
}

// A creator with more videos than a page holds reaches every one of them: the dashboard links to the
// older ones, page after page, each video listed once (uploads of the same moment included).
func TestDashboardPagesThroughEveryVideo(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	const total = 205
	want := map[string]bool{}
	base := time.Now().Add(-time.Hour)
	for i := range total {
		id := uuid.NewString()
		want[id] = true
		var uploaded any = base.Add(time.Duration(i%3) * time.Minute) // many uploads share a moment
		if i >= total-2 {
			uploaded = nil // not known
		}
		if _, err := pool.Exec(ctx, `INSERT INTO creators_portal_videos (id, owner_id, status, uploaded_at)
			VALUES ($1, $2, 'processing', $3)`, id, f.user, uploaded); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	next, pages := "/creators-portal/", 0
	for next != "" && pages < 10 {
		pages++
		rec := f.b.Get(next)
		apptest.WantStatus(t, rec, http.StatusOK)
		body := rec.Body.String()
		for _, m := range regexp.MustCompile(`<tr id="video-([0-9a-f-]{36})"`).FindAllStringSubmatch(body, -1) {
			seen[m[1]]++
		}
		next = ""
		if m := regexp.MustCompile(`<a[^>]*href="([^"]+)"[^>]*rel="next"`).FindStringSubmatch(body); m != nil {
			next = html.UnescapeString(m[1])
		}
	}
	if len(seen) != total {
		t.Errorf("the dashboard's %d pages list %d videos, want %d", pages, len(seen), total)
	}
	for id, n := range seen {
		if !want[id] || n != 1 {
			t.Errorf("video %s listed %d times (mine: %v)", id, n, want[id])
		}
	}
	apptest.WantStatus(t, f.b.Get("/creators-portal/?after=garbage"), http.StatusBadRequest)
	// Another creator's video as the cursor lists nothing of theirs, nor of mine.
	theirs := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: theirs, Owner: uuid.NewString(), Name: "Not mine", Status: "published"})
	rec := f.b.Get("/creators-portal/?after=" + theirs)
	apptest.WantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), `<tr id="video-`) {
		t.Error("a page after another creator's video lists videos")
	}
}

// A rename whose form cannot be read is refused (400) rather than sent on as a blank name.
func TestNameFromAnUnreadableFormIsRefused(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Status: "published", Transcoded: "file:videos/" + videoID + ".mp4"})
	page := "/creators-portal/videos/" + videoID
	token := f.b.CSRF(page)
	for _, body := range []struct{ path, contentType, body string }{
		{page + "/name", "application/x-www-form-urlencoded", "name=%zz"},
		{page + "/describe", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nabc"},
	} {
		req := httptest.NewRequest(http.MethodPost, body.path, strings.NewReader(body.body))
		req.Header.Set("Content-Type", body.contentType)
		req.Header.Set(app.CSRFHeader, token)
		apptest.WantStatus(t, f.b.Do(req), http.StatusBadRequest)
	}
	if msgs := testdb.ReadStream(t, f.store, videopublishingmsg.CommandStreamName(videoID)); len(msgs) != 0 {
		t.Errorf("commands were sent from unreadable forms: %+v", msgs)
	}
}

// The dashboard's "just uploaded" row is for the creator's own upload that the view does not list yet:
// a link naming another creator's video does not show it among one's own videos.
func TestJustUploadedRowIsNotShownForAnotherCreatorsVideo(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	theirs := uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: theirs, Owner: uuid.NewString(), Name: "Not mine", Status: "published"})
	rec := f.b.Get("/creators-portal/?uploaded=" + theirs)
	apptest.WantStatus(t, rec, http.StatusOK)
	if strings.Contains(rec.Body.String(), theirs) {
		t.Error("the dashboard lists another creator's video as just uploaded")
	}
}

// Two aggregators read video-publishing's events: the operation can be recorded as succeeded before
// the video's row has the new name. The operation page then waits (reloading by itself) rather than
// send the creator to a video page that still shows the old name.
func TestOperationPageWaitsForTheVideoToShowTheChange(t *testing.T) {
	f := setup(t)
	pool := testdb.NewPool(t)
	videoID, traceID := uuid.NewString(), uuid.NewString()
	testdb.InsertVideo(t, pool, testdb.VideoRow{ID: videoID, Owner: f.user, Name: "Old name", Status: "published"})
	setPosition := func(table, key, value string, position int64) {
		t.Helper()
		if _, err := pool.Exec(ctx, `UPDATE `+table+` SET position = $2 WHERE `+key+` = $1`, value, position); err != nil {
			t.Fatal(err)
		}
	}
	setPosition("creators_portal_videos", "id", videoID, 5)
	insertOperation(t, pool, traceID, videoID, "name", true, "")
	setPosition("video_operations", "trace_id", traceID, 9) // the VideoNamed event; the video's row is at 5

	rec := f.b.Get("/creators-portal/video-operations/" + traceID)
	apptest.WantStatus(t, rec, http.StatusOK)
	if body := rec.Body.String(); !strings.Contains(body, "Pending") || strings.Contains(body, "data-live-src") ||
		rec.Header().Get("Refresh") == "" {
		t.Errorf("operation recorded before the video's row: want the pending page reloading by itself (Refresh %q)\n%s",
			rec.Header().Get("Refresh"), body)
	}

	setPosition("creators_portal_videos", "id", videoID, 9) // the row has the new name now
	rec = f.b.Get("/creators-portal/video-operations/" + traceID)
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/creators-portal/videos/"+videoID {
		t.Errorf("success → %q", loc)
	}
}

// An upload is received into a hidden .part file that gets its final name once complete. A process
// killed while receiving (SIGKILL, the OOM killer, a power cut) leaves that file behind, up to
// MaxUploadBytes each, and no request would ever remove it: crash after crash they would fill the
// disk. Uploads clear the leftovers: a .part file untouched for longer than an upload may take
// (UploadTimeout) belongs to no upload in progress, in this process or another sharing the directory.
func TestUploadsClearPartialUploadsACrashLeftBehind(t *testing.T) {
	f := setup(t) // UploadTimeout: the default hour
	dir := filepath.Join(f.mediaDir, videopublishingmsg.UploadsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "."+uuid.NewString()+"-1234.part")  // a crash's leftover
	active := filepath.Join(dir, "."+uuid.NewString()+"-5678.part") // another upload, still arriving
	kept := filepath.Join(dir, uuid.NewString()+".webm")            // an old upload, complete
	for _, p := range []string{stale, active, kept} {
		if err := os.WriteFile(p, webmHead, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{stale, kept} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	apptest.WantStatus(t, upload(f.b, "clip.webm", webmHead), http.StatusSeeOther)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a partial upload untouched for two hours is still there (%v)", err)
	}
	for _, p := range []string{active, kept} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
}
