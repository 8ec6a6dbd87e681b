package templates

import "net/url"

// siteName is appended to every page title.
const siteName = "Video Tutorials"

func pageTitle(title string) string {
	if title == "" || title == siteName {
		return siteName
	}
	return title + " · " + siteName
}

// loginURL links to the log-in page and asks it to come back to path. The
// log-in handler validates next again (app.SafeRedirect), so this is only a
// convenience, not a trust boundary.
func loginURL(path string) string {
	if path == "" || path == "/" || path[0] != '/' {
		return "/auth/log-in"
	}
	return "/auth/log-in?next=" + url.QueryEscape(path)
}

// signedInAs is " as <email>" for a signed-in page whose user's email is known, else "".
func signedInAs(p Page) string {
	if p.UserEmail == "" {
		return ""
	}
	return " as " + p.UserEmail
}
