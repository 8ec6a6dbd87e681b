// Package templates holds the HTML of the Video Tutorials web applications: the
// layout every page is wrapped in, the error pages, small shared partials, and
// the static assets (CSS, JavaScript, logo) that are embedded into the binary.
//
// Components are written in templ (*.templ). The generated *_templ.go files are
// committed, as templ's own guidance recommends, so that `go build` works
// without the templ CLI. After editing a .templ file run, from the module root,
// the templ CLI of the version in go.mod (v0.3.1100 as of writing):
//
//	go run github.com/a-h/templ/cmd/templ@v0.3.1100 generate -path templates
//
// (or go install it once and run templ generate), and commit both files.
//
// # Rules
//
//   - This package may import only templ and viewdata (row types). It never
//     reads requests, sessions or the database: the application fills a view
//     model (Page, and page-specific structs) and the template only formats it.
//     That keeps every template renderable in a unit test with plain values.
//   - Pages are inline-free: no <script> blocks, no on* handler attributes, no
//     style="" attributes. The Content-Security-Policy set by package app forbids
//     them, so they would silently not work. Behaviour lives in static/*.js,
//     presentation in static/app.css.
//   - Every page is wrapped in Layout(p Page); a form that POSTs includes
//     @CSRFField(p.CSRFToken) as its first field (multipart uploads rely on it
//     being first, see peekMultipartToken in app/csrf.go).
//   - Static files are referenced with AssetPath("app.css"), never with a literal
//     "/static/..." URL: AssetPath returns a fingerprinted name that can be
//     cached forever and changes whenever the file does.
//
// # Live updates (static/live.js)
//
// An element with data-live-src="<same-origin URL of an SSE endpoint>" opens an
// EventSource to that URL. Inside it (the element itself included):
//
//   - event "update", data = a JSON object {"key": value, ...}: every element
//     with data-live-field="key" gets its textContent set to String(value).
//     If that element also carries data-live-reveal, it is shown when the value
//     is non-empty and hidden when empty (use with the hidden attribute).
//     If it carries data-live-reload, a change of its value reloads the page
//     (which then shows what the new value brings, e.g. a video's player once
//     it is published), unless a form field of the page holds unsent input
//     that the reload would lose: then only the text changes.
//     An element with data-live-src and data-live-reload-new=".suffix" (and
//     data-live-reload-new-value="V") reloads the page, by the same rule, when an
//     update has a key "<item>.suffix" with the value V that no element inside
//     it shows: a new item the page should list (the dashboard's new uploads).
//     Either reload happens at most once in five seconds per page.
//   - event "redirect", data = a same-origin URL: the browser navigates there.
//     Other origins are ignored.
//   - event "reload": the page reloads (the server sends it when the client fell
//     behind and missed events).
//
// The element gets data-live-state="connecting" | "open" | "closed" so CSS can
// show a connection indicator. When the connection is re-established after a
// drop, the page reloads once to pick up whatever changed in between. Pages
// must work without JavaScript: the live stream only saves a reload.
package templates
