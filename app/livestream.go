package app

import (
	"github.com/labstack/echo/v4"
	"net/http"

	"videotutorials/app/live"
)

// LiveStream returns a handler that streams the live events of one topic to
// the page (server-sent events). topic decides the topic from the request and
// is where authorization happens, e.g. a creator's dashboard stream:
//
//	portal.GET("/live", app.LiveStream(hub, func(c echo.Context) (string, error) {
//		id, _ := app.CurrentUserID(c) // portal group has RequireLogin
//		return live.DashboardTopic(id), nil
//	}))
//
// Returning an error renders it as usual (plain text, since EventSource asks
// for text/event-stream). Streams end when the client leaves and when the
// server starts shutting down.
func LiveStream(hub *live.Hub, topic func(c echo.Context) (string, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := topic(c)
		if err != nil {
			return err
		}
		if c.Request().Method == http.MethodHead {
			live.Head(c.Response())
			return nil
		}
		var stop <-chan struct{}
		if rs := requestOf(c); rs != nil {
			stop = rs.srv.draining
		}
		return live.Stream(c.Response(), c.Request(), hub.Subscribe(t), live.StreamOptions{Stop: stop})
	}
}

// LiveTopic is a topic function for a fixed, public topic such as "home".
func LiveTopic(topic string) func(echo.Context) (string, error) {
	return func(echo.Context) (string, error) { return topic, nil }
}
