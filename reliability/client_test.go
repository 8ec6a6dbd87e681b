package reliability

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// client is a visitor without JavaScript: a cookie jar, redirects not followed. It talks to whichever
// process base returns, so a load can move between processes and survive restarts. Its methods never
// fail the test: a process that is down is an error to count, not a bug.
type client struct {
	hc    *http.Client
	base  func() string
	token string // CSRF token of the client's session
}

func newClient(base func() string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{base: base, hc: &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// fixedBase returns a base function that always answers p's URL.
func fixedBase(p *proc) func() string { return func() string { return p.base } }

type result struct {
	status   int
	location string
	trace    string
	body     string
}

func (c *client) do(req *http.Request) (result, error) {
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, location: resp.Header.Get("Location"), trace: resp.Header.Get("X-Trace-Id"), body: string(b)}, nil
}

func (c *client) get(path string) (result, error) {
	req, err := http.NewRequest(http.MethodGet, c.base()+path, nil)
	if err != nil {
		return result{}, err
	}
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

// formValue returns the value of the first input named name in page.
func formValue(page, name string) string {
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// post submits form to path with the client's CSRF token (fetched from the log-in page when it has
// none) and the path as Referer.
func (c *client) post(path string, form url.Values) (result, error) {
	if c.token == "" {
		if err := c.refreshToken(); err != nil {
			return result{}, err
		}
	}
	form.Set("_csrf", c.token)
	base := c.base()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", base+path)
	r, err := c.do(req)
	if err == nil && r.status == http.StatusForbidden {
		c.token = "" // a new session (a log-in rotates it): fetch a token again next time
	}
	return r, err
}

func (c *client) refreshToken() error {
	page, err := c.get("/auth/log-in")
	if err != nil {
		return err
	}
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		return fmt.Errorf("no CSRF token on the log-in page (status %d)", page.status)
	}
	c.token = m[1]
	return nil
}

// register submits the registration form; it returns the form's user id.
func (c *client) register(email, password string) (string, result, error) {
	page, err := c.get("/register")
	if err != nil {
		return "", result{}, err
	}
	userID, token := formValue(page.body, "userId"), formValue(page.body, "_csrf")
	if userID == "" || token == "" {
		return "", result{}, fmt.Errorf("registration form: status %d", page.status)
	}
	c.token = token
	r, err := c.post("/register", url.Values{"userId": {userID}, "email": {email}, "password": {password}})
	return userID, r, err
}

func (c *client) logIn(email, password string) (result, error) {
	if err := c.refreshToken(); err != nil {
		return result{}, err
	}
	r, err := c.post("/auth/log-in", url.Values{"email": {email}, "password": {password}})
	c.token = "" // the session changes at log-in
	return r, err
}

// recordViewing records a viewing of videoID as the watch page's script does.
func (c *client) recordViewing(videoID string) (result, error) {
	return c.post("/record-viewing/"+videoID, url.Values{})
}

// upload publishes a video file from the creators portal and returns the new video's id.
func (c *client) upload(filename string, content []byte) (string, result, error) {
	dash, err := c.get("/creators-portal/")
	if err != nil {
		return "", result{}, err
	}
	token := formValue(dash.body, "_csrf")
	if dash.status != http.StatusOK || token == "" {
		return "", dash, fmt.Errorf("dashboard: status %d", dash.status)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("_csrf", token)
	fw, _ := w.CreateFormFile("video", filename)
	fw.Write(content)
	w.Close()
	base := c.base()
	req, _ := http.NewRequest(http.MethodPost, base+"/creators-portal/publish-video", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Referer", base+"/creators-portal/")
	r, err := c.do(req)
	if err != nil {
		return "", r, err
	}
	if r.status != http.StatusSeeOther {
		return "", r, fmt.Errorf("upload: status %d", r.status)
	}
	loc, _ := url.Parse(r.location)
	id := loc.Query().Get("uploaded")
	if uuid.Validate(id) != nil {
		return "", r, fmt.Errorf("upload → %q", r.location)
	}
	return id, r, nil
}

// operation sends a name or describe command for a video; on success it returns the operation's
// trace id (the last segment of the operation page it redirects to).
func (c *client) operation(videoID, kind, value string) (string, result, error) {
	field := map[string]string{"name": "name", "describe": "description"}[kind]
	r, err := c.post("/creators-portal/videos/"+videoID+"/"+kind, url.Values{field: {value}})
	if err != nil {
		return "", r, err
	}
	const prefix = "/creators-portal/video-operations/"
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, prefix) {
		return "", r, fmt.Errorf("%s: status %d → %q", kind, r.status, r.location)
	}
	return strings.TrimPrefix(r.location, prefix), r, nil
}

var videosWatched = regexp.MustCompile(`id="videos-watched"[^>]*>(\d+)<`)

// homeCount is the count the home page shows.
func (c *client) homeCount() (int, error) {
	page, err := c.get("/")
	if err != nil {
		return 0, err
	}
	m := videosWatched.FindStringSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		return 0, fmt.Errorf("home page: status %d", page.status)
	}
	return strconv.Atoi(m[1])
}

// signUp registers email and logs in, retrying through restarts until the credentials view knows
// the user. It returns the user id.
func (c *client) signUp(email, password string, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	var userID string
	for userID == "" {
		id, r, err := c.register(email, password)
		if err == nil && r.status == http.StatusSeeOther {
			userID = id
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("register %s: %v (status %d)", email, err, r.status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		r, err := c.logIn(email, password)
		if err == nil && r.status == http.StatusSeeOther {
			return userID, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("log in %s: %v (status %d)", email, err, r.status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clip is the tiny test video (testdata/clip.webm at the module root).
func clip() ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "testdata", "clip.webm"))
}
