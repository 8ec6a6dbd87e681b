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
// for text/event-stream). Streams end when the client leaves, when the server
// starts shutting down, and, for a stream opened by a signed-in session, when
// that session is logged out: here or in another process, found as the shell
// finds it for every request (revocation.go), before each event and at each
// heartbeat. Otherwise a stream held open by a tab (or a copied cookie) would
// go on delivering the user's updates after the log-out. Its reconnection is
// then refused by the route's RequireLogin like any other request.
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
		var opts live.StreamOptions
		if rs := requestOf(c); rs != nil {
			opts.Stop = rs.srv.draining
			if st := sessionOf(c); signedIn(st) {
				opts.Valid = rs.srv.stillSignedIn(c, sessionRef(st.data.SID))
			}
		}
		return live.Stream(c.Response(), c.Request(), hub.Subscribe(t), opts)
	}
}

// stillSignedIn returns a check that the signed-in session ref was not logged out since the request
// began. Like loadSession it keeps the session when the lookup fails (logged): a database hiccup does
// not end every stream.
func (s *Server) stillSignedIn(c echo.Context, ref string) func() bool {
	ctx := c.Request().Context()
	return func() bool {
		revoked, err := s.revocations.revoked(ctx, ref, s.now())
		if err != nil && ctx.Err() != nil {
			return false // the client left; the stream is ending anyway
		}
		if err != nil {
			Logger(c).Warn("checking whether the session of a live stream was logged out failed; keeping it", "err", err)
		}
		return !revoked
	}
}

// LiveTopic is a topic function for a fixed, public topic such as "home".
func LiveTopic(topic string) func(echo.Context) (string, error) {
	return func(echo.Context) (string, error) { return topic, nil }
}
