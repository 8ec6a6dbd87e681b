package app

import (
	"bytes"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"videotutorials/templates"
)

// contentTypes are set explicitly rather than from the system MIME table, so
// that responses do not depend on /etc/mime.types of the host (nosniff makes
// a wrong type fatal for scripts and styles).
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// serveStatic serves the embedded assets under /static/. Fingerprinted names
// (templates.AssetPath) are immutable and cached for a year; other names are
// served with an ETag and must be revalidated, so a stale HTML page cached
// across a deploy still gets working (current) assets.
func serveStatic(c echo.Context) error {
	name := c.Param("*")
	if name == "" || strings.Contains(name, "..") {
		return NotFound("")
	}
	asset, immutable, ok := templates.LookupAsset(name)
	if !ok {
		return NotFound("")
	}
	h := c.Response().Header()
	if ct, known := contentTypes[path.Ext(asset.Name)]; known {
		h.Set(echo.HeaderContentType, ct)
	} else {
		h.Set(echo.HeaderContentType, "application/octet-stream")
	}
	h.Set("ETag", `"`+asset.Hash+`"`)
	if immutable {
		h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		h.Set(echo.HeaderCacheControl, "public, no-cache")
	}
	// ServeContent answers conditional (If-None-Match), range and HEAD
	// requests correctly.
	return ServeContent(c, c.Request(), asset.Name, time.Time{}, bytes.NewReader(asset.Body), "That part of the file does not exist.")
}

// serveFavicon answers the /favicon.ico that browsers ask for on their own, whatever the page's
// <link rel="icon"> says, with a redirect to the (SVG) logo: a 404 on every first visit would only
// fill the log.
func serveFavicon(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
	return c.Redirect(http.StatusMovedPermanently, templates.AssetPath("logo.svg"))
}
