package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"videotutorials/viewdata"
)

// testClip returns a small real video: a two-second clip made with ffmpeg when it is installed, or
// else the committed testdata/clip.webm (made the same way, VP8 and Vorbis, 21 KB).
func testClip(t *testing.T) (name string, content []byte) {
	t.Helper()
	if ffmpeg, err := exec.LookPath("ffmpeg"); err == nil {
		out := filepath.Join(t.TempDir(), "clip.mp4")
		cmd := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10",
			"-f", "lavfi", "-i", "sine=duration=2", "-shortest", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make a clip: %v\n%s", err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return "clip.mp4", b
	}
	b, err := os.ReadFile(filepath.Join("testdata", "clip.webm"))
	if err != nil {
		t.Fatal(err)
	}
	return "clip.webm", b
}

// upload posts the dashboard's upload form with a file, as a browser does: the token first.
func (v *visitor) upload(dashboard response, filename string, content []byte) response {
	v.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", field(v.t, dashboard.body, "_csrf"))
	fw, err := w.CreateFormFile("video", filename)
	if err != nil {
		v.t.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, v.p.base+"/creators-portal/publish-video", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Referer", v.p.base+"/creators-portal/")
	return v.do(req)
}

// video returns the creators-videos view of a video (zero while it has none).
func (p *program) video(id string) viewdata.CreatorsVideo {
	p.t.Helper()
	v, _ := viewdata.CreatorsVideoByID(context.Background(), p.views, id)
	return v
}

// dashboardCell returns the text of a dashboard cell with data-live-field key.
func dashboardCell(page, key string) string {
	m := regexp.MustCompile(`data-live-field="` + regexp.QuoteMeta(key) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// signUp registers a user and logs the visitor in.
func (v *visitor) signUp() string {
	v.t.Helper()
	email, password := strings.ToLower(freshE2EEmail()), "video creator password"
	userID, res := v.register(email, password)
	if res.status != http.StatusSeeOther {
		v.t.Fatalf("register: %d\n%s", res.status, res.body)
	}
	eventually(v.t, "credentials view", func() bool {
		_, err := viewdata.CredentialsByEmail(context.Background(), v.p.views, email)
		return err == nil
	})
	if res := v.logIn(email, password); res.status != http.StatusSeeOther {
		v.t.Fatalf("log in: %d\n%s", res.status, res.body)
	}
	return userID
}

func TestEndToEndPublishNameAndWatchAVideo(t *testing.T) {
	p := startProgram(t)

	// The portal is for signed-in creators only.
	anonymous := p.visitor()
	if res := anonymous.get("/creators-portal/"); res.status != http.StatusSeeOther ||
		res.location != "/auth/log-in?next="+url.QueryEscape("/creators-portal/") {
		t.Fatalf("anonymous dashboard: %d → %q", res.status, res.location)
	}

	v := p.visitor()
	userID := v.signUp()

	// Upload a real video.
	name, clip := testClip(t)
	dashboard := v.get("/creators-portal/")
	if dashboard.status != http.StatusOK {
		t.Fatalf("dashboard: %d", dashboard.status)
	}
	res := v.upload(dashboard, name, clip)
	if res.status != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", res.status, res.body)
	}
	loc, _ := url.Parse(res.location)
	videoID := loc.Query().Get("uploaded")
	if loc.Path != "/creators-portal/" || uuid.Validate(videoID) != nil {
		t.Fatalf("upload → %q", res.location)
	}
	// A file that is not a video is refused with a clear message.
	if res := v.upload(v.get("/creators-portal/"), "notes.mp4", []byte("these are my notes, not a video")); res.status != http.StatusBadRequest ||
		!strings.Contains(res.body, "That file is not a video") {
		t.Fatalf("text upload: %d", res.status)
	}

	// Published (transcoded when ffmpeg is installed), as the dashboard says.
	eventually(t, "the video published", func() bool { return p.video(videoID).Published() })
	published := p.video(videoID)
	if published.OwnerID != userID {
		t.Fatalf("owner %s, want %s", published.OwnerID, userID)
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		if published.TranscodedURI != "file:videos/"+videoID+".mp4" || published.PosterURI != "file:posters/"+videoID+".jpg" {
			t.Errorf("not transcoded: %+v", published)
		}
	} else if published.TranscodedURI != published.SourceURI {
		t.Errorf("without ffmpeg the upload is published as is: %+v", published)
	}
	page := v.get("/creators-portal/")
	if got := dashboardCell(page.body, videoID+".status"); got != "Published" {
		t.Fatalf("dashboard status %q", got)
	}
	if got := dashboardCell(page.body, videoID+".name"); got != "Untitled" {
		t.Fatalf("dashboard name %q", got)
	}

	// Name it: the operation page moves on to the video once the outcome is known.
	videoPage := "/creators-portal/videos/" + videoID
	res = v.submit(v.get(videoPage), videoPage, videoPage+"/name", url.Values{"name": {"  Learning Go  "}})
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/creators-portal/video-operations/") {
		t.Fatalf("name: %d → %q", res.status, res.location)
	}
	operation := res.location
	eventually(t, "the rename to be decided", func() bool {
		r := v.get(operation)
		return r.status == http.StatusSeeOther && r.location == videoPage
	})
	if body := v.get(videoPage).body; !strings.Contains(body, `value="Learning Go"`) {
		t.Fatalf("the video page does not show the new name")
	}
	// A name over the limit is rejected by the component, and the operation page says why.
	res = v.submit(v.get(videoPage), videoPage, videoPage+"/name", url.Values{"name": {strings.Repeat("n", 256)}})
	operation = res.location
	eventually(t, "the long name to be rejected", func() bool {
		r := v.get(operation)
		return r.status == http.StatusOK && strings.Contains(r.body, "The name is longer than 255 characters.")
	})
	res = v.submit(v.get(videoPage), videoPage, videoPage+"/describe", url.Values{"description": {"Goroutines and channels."}})
	operation = res.location
	eventually(t, "the description", func() bool { return v.get(operation).status == http.StatusSeeOther })

	// Anyone can watch it: the page, then the file in ranges as a player fetches it.
	viewer := p.visitor()
	watch := viewer.get("/videos/" + videoID)
	if watch.status != http.StatusOK || !strings.Contains(watch.body, "Learning Go") || !strings.Contains(watch.body, "Goroutines and channels.") {
		t.Fatalf("watch page: %d\n%s", watch.status, watch.body)
	}
	req, _ := http.NewRequest(http.MethodGet, p.base+"/videos/"+videoID+"/file", nil)
	req.Header.Set("Range", "bytes=0-99")
	resp, err := viewer.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	size := fileSize(t, viewer, "/videos/"+videoID+"/file")
	if resp.StatusCode != http.StatusPartialContent || len(head) != 100 ||
		resp.Header.Get("Content-Range") != "bytes 0-99/"+strconv.FormatInt(size, 10) {
		t.Fatalf("range request: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(head))
	}
	// Playing records a viewing, as watch.js does: a POST with the page's token in the header.
	token := regexp.MustCompile(`data-csrf-token="([^"]+)"`).FindStringSubmatch(watch.body)
	recordURL := regexp.MustCompile(`data-record-viewing="([^"]+)"`).FindStringSubmatch(watch.body)
	if token == nil || recordURL == nil {
		t.Fatal("the player lacks its record-viewing attributes")
	}
	req, _ = http.NewRequest(http.MethodPost, p.base+recordURL[1], nil)
	req.Header.Set("X-CSRF-Token", token[1])
	if r := viewer.do(req); r.status != http.StatusSeeOther {
		t.Fatalf("record viewing: %d\n%s", r.status, r.body)
	}

	// The view is counted on the dashboard (and on the home page's list when it has one).
	eventually(t, "the viewing on the dashboard", func() bool {
		return dashboardCell(v.get("/creators-portal/").body, videoID+".views") == "1"
	})
	if home := v.get("/"); strings.Contains(home.body, `id="video-list-heading"`) &&
		!strings.Contains(home.body, `href="/videos/`+videoID+`"`) {
		t.Errorf("the home page's list lacks the video")
	}
	// Another creator cannot see or rename it.
	other := p.visitor()
	other.signUp()
	if r := other.get(videoPage); r.status != http.StatusNotFound {
		t.Errorf("another creator's view of the video page: %d", r.status)
	}

	p.stop()
}

// fileSize asks the server for the size of a file (HEAD).
func fileSize(t *testing.T, v *visitor, path string) int64 {
	t.Helper()
	resp, err := v.client.Head(v.p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		t.Fatalf("HEAD %s: %d, length %d", path, resp.StatusCode, resp.ContentLength)
	}
	return resp.ContentLength
}
