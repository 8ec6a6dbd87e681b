package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Client is one simulated visitor: one keep-alive connection (its own transport, like one wrk
// connection), a cookie jar (the session cookie) and the CSRF token of its last page.
type Client struct {
	Base  string // http://host:port, no trailing slash
	http  *http.Client
	Token string // CSRF token of the last page fetched with Page
}

// NewClient returns a client of base. cookies=false makes it forget cookies, as wrk does.
func NewClient(base string, cookies bool) *Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	c := &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		// Redirects are answers (303 after a POST), not something to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cookies {
		c.Jar, _ = cookiejar.New(nil)
	}
	return &Client{Base: strings.TrimRight(base, "/"), http: c}
}

// Close drops the client's connection.
func (c *Client) Close() { c.http.CloseIdleConnections() }

var csrfField = regexp.MustCompile(`name="_csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="_csrf"`)

// Get fetches path and discards the body; it returns the status.
func (c *Client) Get(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return 0, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}

// Page fetches path, keeps its CSRF token and returns the body.
func (c *Client) Page(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return "", err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d", path, res.StatusCode)
	}
	body := string(b)
	if m := csrfField.FindStringSubmatch(body); m != nil {
		c.Token = m[1] + m[2]
	}
	return body, nil
}

// Post sends a form (nil: no body) with the CSRF token in the X-CSRF-Token header. It returns the
// status and the X-Trace-Id the server gave the request.
func (c *Client) Post(ctx context.Context, path string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+path, body)
	if err != nil {
		return 0, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.Token == "" {
		return 0, "", errors.New("no CSRF token: fetch a page first")
	}
	req.Header.Set("X-CSRF-Token", c.Token)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("X-Trace-Id"), err
}

var videosWatched = regexp.MustCompile(`id="videos-watched"[^>]*>(\d+)<`)

// HomeCount returns the "videos watched" count shown by the home page.
func (c *Client) HomeCount(ctx context.Context) (int64, error) {
	body, err := c.Page(ctx, "/")
	if err != nil {
		return 0, err
	}
	m := videosWatched.FindStringSubmatch(body)
	if m == nil {
		return 0, errors.New("no videos-watched counter on the home page")
	}
	return strconv.ParseInt(m[1], 10, 64)
}
