package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"videotutorials/app"
	"videotutorials/app/live"
	"videotutorials/messagestore"
	"videotutorials/templates"
	"videotutorials/viewdata"
)

// LiveTopic carries the subscriptions page's live updates.
const LiveTopic = live.TopicAdminSubscribers

// DefaultPageSize is the page size when the request names none.
const DefaultPageSize = 50

// Deps are what the portal needs.
type Deps struct {
	Views viewdata.Querier // view data (read-only)
	Store viewdata.Querier // the message store (read)
	// Head returns a category's newest global position (messagestore.Store.CategoryHead).
	Head      func(ctx context.Context, category string) (int64, error)
	Contracts func() []messagestore.Contract // every contract of the system, for the system map
	Hub       *live.Hub                      // may be nil: no live updates
	// RequestRetry asks whichever process runs a subscription to retry it if it is parked
	// (messagestore.Store.RequestRetry); nil: the positions page offers no retry.
	RequestRetry func(ctx context.Context, subscriberID string) error
}

// App is the admin portal.
type App struct {
	d   Deps
	sup atomic.Pointer[messagestore.Supervisor]
}

// New returns the portal.
func New(d Deps) *App { return &App{d: d} }

// SetSupervisor hands the portal this process's supervisor (created after the applications).
func (a *App) SetSupervisor(s *messagestore.Supervisor) { a.sup.Store(s) }

// Routes mounts the portal under /admin.
func (a *App) Routes(r app.Router) {
	g := r.Group("/admin", app.RequireLogin, app.RequireAdmin)
	g.GET("", a.users)
	g.GET("/", a.users)
	g.GET("/users", a.users)
	g.GET("/users/:id", a.user)
	g.GET("/messages", a.messages)
	g.GET("/messages/:gp", a.message)
	g.GET("/streams", a.streams)
	g.GET("/streams/:name", a.stream)
	g.GET("/categories", a.categories)
	g.GET("/categories/:name", a.category)
	g.GET("/types/:type", a.typeMessages)
	g.GET("/traces/:traceId", a.trace)
	g.GET("/subscriber-positions", a.positions)
	g.GET("/subscriptions", a.subscriptions)
	g.GET("/subscriptions/live", a.subscriptionsLive)
	g.POST("/subscriptions/:id/retry", a.retry)
	g.POST("/subscriber-positions/:id/retry", a.retryAnywhere)
	g.GET("/system", a.system)
}

// --- paging ---

func pageSize(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > viewdata.AdminMaxPageSize {
		return 0, app.BadRequest(fmt.Sprintf("limit must be a number from 1 to %d.", viewdata.AdminMaxPageSize))
	}
	return n, nil
}

// onePage cuts a list fetched with one row more than a page holds (limit+1) to the page, and tells
// whether more follow: a page that is exactly full has a next page only if that row was there, so
// the last page of a list that fills its pages exactly does not link to an empty one.
func onePage[T any](rows []T, limit int) (page []T, more bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}

// positionCursor reads a global-position cursor (a positive integer; absent = 0).
func positionCursor(c echo.Context, name string) (int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, app.BadRequest("That page link is not valid.")
	}
	return n, nil
}

// nameCursor reads an opaque name cursor (base64url of the last key shown). What it decodes to goes
// to a query, so it must be text PostgreSQL can hold (a made-up cursor may decode to any bytes).
func nameCursor(c echo.Context) (string, error) {
	b, err := decodeCursor(c)
	if err != nil || (len(b) > 0 && !app.CleanText(string(b))) {
		return "", app.BadRequest("That page link is not valid.")
	}
	return string(b), nil
}

// userCursor reads the users page's cursor: the last email and user id shown, NUL-separated.
func userCursor(c echo.Context) (email, id string, err error) {
	b, err := decodeCursor(c)
	if err != nil || len(b) == 0 {
		return "", "", err
	}
	email, id, ok := strings.Cut(string(b), "\x00")
	if _, valid := app.ParseID(id); !ok || !valid || !app.CleanText(email) {
		return "", "", app.BadRequest("That page link is not valid.")
	}
	return email, id, nil
}

// decodeCursor decodes the after parameter (nil when absent).
func decodeCursor(c echo.Context) ([]byte, error) {
	s := c.QueryParam("after")
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, app.BadRequest("That page link is not valid.")
	}
	return b, nil
}

func encodeName(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// nextURL is the request's URL with the cursor parameter replaced.
func nextURL(c echo.Context, param, value string) string {
	u := *c.Request().URL
	q := u.Query()
	q.Set(param, value)
	u.RawQuery = q.Encode()
	return u.EscapedPath() + "?" + u.RawQuery // escaped: a stream name may hold a slash
}

// --- messages ---

type metaFields struct {
	TraceID                        string `json:"traceId"`
	UserID                         string `json:"userId"`
	CausationMessageStreamName     string `json:"causationMessageStreamName"`
	CausationMessageGlobalPosition *int64 `json:"causationMessageGlobalPosition"`
}

func view(m viewdata.AdminMessage) viewdata.AdminMessageView {
	var md metaFields
	_ = json.Unmarshal(m.Metadata, &md)
	v := viewdata.AdminMessageView{
		GlobalPosition: m.GlobalPosition, Position: m.Position, ID: m.ID, StreamName: m.StreamName,
		Category: messagestore.Category(m.StreamName), Type: m.Type, Time: m.Time.Format("2006-01-02 15:04:05.000000"),
		TraceID: md.TraceID, UserID: md.UserID,
		Data:                string(viewdata.RedactMessageJSON(m.Type, m.Data)),
		Metadata:            string(viewdata.RedactMessageJSON(m.Type, m.Metadata)),
		CausationStreamName: md.CausationMessageStreamName,
	}
	if md.CausationMessageGlobalPosition != nil {
		v.CausationGlobalPosition = *md.CausationMessageGlobalPosition
	}
	return v
}

func views(ms []viewdata.AdminMessage) []viewdata.AdminMessageView {
	out := make([]viewdata.AdminMessageView, len(ms))
	for i, m := range ms {
		out[i] = view(m)
	}
	return out
}

// messagePage loads one newest-first page of messages matching f.
func (a *App) messagePage(c echo.Context, f viewdata.MessageFilter, title string) (viewdata.AdminMessagesView, error) {
	limit, err := pageSize(c)
	if err != nil {
		return viewdata.AdminMessagesView{}, err
	}
	before, err := positionCursor(c, "before")
	if err != nil {
		return viewdata.AdminMessagesView{}, err
	}
	ms, err := viewdata.AdminMessages(c.Request().Context(), a.d.Store, a.d.Views, f, before, false, limit+1)
	if err != nil {
		return viewdata.AdminMessagesView{}, err
	}
	ms, more := onePage(ms, limit)
	v := viewdata.AdminMessagesView{Title: title, Filter: f, Rows: views(ms)}
	if more {
		v.NextURL = nextURL(c, "before", strconv.FormatInt(ms[len(ms)-1].GlobalPosition, 10))
	}
	return v, nil
}

func (a *App) messages(c echo.Context) error {
	f := viewdata.MessageFilter{
		Type: strings.TrimSpace(c.QueryParam("type")), Category: strings.TrimSpace(c.QueryParam("category")),
		Stream: strings.TrimSpace(c.QueryParam("stream")), TraceID: strings.TrimSpace(c.QueryParam("trace")),
		UserID: strings.TrimSpace(c.QueryParam("user")),
	}
	if f.Category != "" && !messagestore.IsCategory(f.Category) {
		return app.BadRequest("A category has no “-”.")
	}
	for _, id := range []*string{&f.TraceID, &f.UserID} {
		if *id == "" {
			continue
		}
		var ok bool
		if *id, ok = app.ParseID(*id); !ok {
			return app.BadRequest("Trace and user ids are UUIDs.")
		}
	}
	v, err := a.messagePage(c, f, "Messages")
	if err != nil {
		return err
	}
	return app.Render(c, http.StatusOK, templates.AdminMessagesPage(app.PageFor(c, "Messages"), v))
}

func (a *App) typeMessages(c echo.Context) error {
	typ, ok := app.PathParam(c, "type")
	if !ok || typ == "" {
		return app.BadRequest("That is not a message type.")
	}
	v, err := a.messagePage(c, viewdata.MessageFilter{Type: typ}, "Messages of type "+typ)
	if err != nil {
		return err
	}
	return app.Render(c, http.StatusOK, templates.AdminMessagesPage(app.PageFor(c, "Messages of type "+typ), v))
}

func (a *App) message(c echo.Context) error {
	gp, err := strconv.ParseInt(c.Param("gp"), 10, 64)
	if err != nil || gp < 1 {
		return app.BadRequest("A message is identified by its global position.")
	}
	m, err := viewdata.AdminMessageByGlobalPosition(c.Request().Context(), a.d.Store, gp)
	if errors.Is(err, viewdata.ErrNotFound) {
		return app.NotFound("No message at that global position.")
	}
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Message %d", gp)
	return app.Render(c, http.StatusOK, templates.AdminMessagePage(app.PageFor(c, title), view(m)))
}

func (a *App) trace(c echo.Context) error {
	id, ok := app.ParseID(c.Param("traceId"))
	if !ok {
		return app.BadRequest("A trace id is a UUID.")
	}
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	after, err := positionCursor(c, "after")
	if err != nil {
		return err
	}
	f := viewdata.MessageFilter{TraceID: id}
	ms, err := viewdata.AdminMessages(c.Request().Context(), a.d.Store, a.d.Views, f, after, true, limit+1)
	if err != nil {
		return err
	}
	ms, more := onePage(ms, limit)
	v := viewdata.AdminMessagesView{Title: "Trace", Filter: f, Rows: views(ms)}
	for i := 1; i < len(ms); i++ {
		v.Rows[i].SincePrevious = "+" + ms[i].Time.Sub(ms[i-1].Time).Round(time.Microsecond).String()
	}
	if more {
		v.NextURL = nextURL(c, "after", strconv.FormatInt(ms[len(ms)-1].GlobalPosition, 10))
	}
	return app.Render(c, http.StatusOK, templates.AdminTracePage(app.PageFor(c, "Trace "+id), v))
}

// --- users ---

func (a *App) users(c echo.Context) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	email, id, err := userCursor(c)
	if err != nil {
		return err
	}
	us, err := viewdata.AdminUsers(c.Request().Context(), a.d.Views, email, id, limit+1)
	if err != nil {
		return err
	}
	us, more := onePage(us, limit)
	v := viewdata.AdminUsersView{Users: us}
	if more {
		last := us[len(us)-1]
		v.NextURL = nextURL(c, "after", encodeName(last.Email+"\x00"+last.ID))
	}
	return app.Render(c, http.StatusOK, templates.AdminUsersPage(app.PageFor(c, "Users"), v))
}

func (a *App) user(c echo.Context) error {
	id, ok := app.ParseID(c.Param("id"))
	if !ok {
		return app.BadRequest("A user id is a UUID.")
	}
	ctx := c.Request().Context()
	const n = 20
	u, err := viewdata.AdminUserByID(ctx, a.d.Views, id)
	registered := err == nil
	if errors.Is(err, viewdata.ErrNotFound) {
		// Not a registered user (a rejected registration, or messages of another Message DB
		// client), but the messages pages link every message's user here: a user id that messages
		// name gets its page of them, one that nothing names is not found.
		u, err = viewdata.AdminUser{ID: id}, nil
	}
	if err != nil {
		return err
	}
	v := viewdata.AdminUserView{User: u}
	authentication := "authentication-" + id
	logins, err := viewdata.AdminMessages(ctx, a.d.Store, a.d.Views, viewdata.MessageFilter{Stream: authentication}, 0, false, n+1)
	if err != nil {
		return err
	}
	viewings, err := viewdata.AdminMessages(ctx, a.d.Store, a.d.Views, viewdata.MessageFilter{UserID: id, Category: "viewing"}, 0, false, n+1)
	if err != nil {
		return err
	}
	all, err := viewdata.AdminMessages(ctx, a.d.Store, a.d.Views, viewdata.MessageFilter{UserID: id}, 0, false, n+1)
	if err != nil {
		return err
	}
	// The user's identity stream: a registration made by an anonymous visitor (every one made
	// through the site) carries no metadata userId, so "all" does not hold it.
	identityStream := "identity-" + id
	registration, err := viewdata.AdminMessages(ctx, a.d.Store, a.d.Views, viewdata.MessageFilter{Stream: identityStream}, 0, false, n)
	if err != nil {
		return err
	}
	if !registered && len(all) == 0 && len(logins) == 0 && len(registration) == 0 {
		return app.NotFound("No user with that id.")
	}
	logins, moreLogins := onePage(logins, n)
	viewings, moreViewings := onePage(viewings, n)
	all, moreMessages := onePage(all, n)
	v.Logins, v.Viewings, v.Messages = views(logins), views(viewings), views(all)
	if moreLogins {
		// The older log-ins (and failed ones) are the rest of the authentication stream: the page
		// after the oldest one shown, as the stream's own page would link to it.
		v.MoreLoginsURL = "/admin/messages?" + url.Values{"stream": {authentication},
			"before": {strconv.FormatInt(logins[len(logins)-1].GlobalPosition, 10)}}.Encode()
	}
	if moreViewings {
		v.MoreViewingsURL = "/admin/messages?category=viewing&user=" + id
	}
	if moreMessages {
		v.MoreMessagesURL = "/admin/messages?user=" + id
	}
	title := u.Email
	if title == "" {
		title = "User " + id
	}
	reg := templates.AdminUserRegistration{Stream: identityStream, Messages: views(registration)}
	return app.Render(c, http.StatusOK, templates.AdminUserPage(app.PageFor(c, title), v, reg))
}

// --- streams and categories ---

func (a *App) streamList(c echo.Context, category string) (viewdata.AdminStreamsView, error) {
	limit, err := pageSize(c)
	if err != nil {
		return viewdata.AdminStreamsView{}, err
	}
	after, err := nameCursor(c)
	if err != nil {
		return viewdata.AdminStreamsView{}, err
	}
	ss, err := viewdata.AdminStreams(c.Request().Context(), a.d.Views, category, after, limit+1)
	if err != nil {
		return viewdata.AdminStreamsView{}, err
	}
	ss, more := onePage(ss, limit)
	v := viewdata.AdminStreamsView{Streams: ss}
	if more {
		v.NextURL = nextURL(c, "after", encodeName(ss[len(ss)-1].StreamName))
	}
	return v, nil
}

func (a *App) streams(c echo.Context) error {
	v, err := a.streamList(c, "")
	if err != nil {
		return err
	}
	return app.Render(c, http.StatusOK, templates.AdminStreamsPage(app.PageFor(c, "Streams"), v))
}

func (a *App) stream(c echo.Context) error {
	name, ok := app.PathParam(c, "name")
	if !ok || name == "" {
		return app.BadRequest("That is not a stream name.")
	}
	s, err := viewdata.AdminStreamByName(c.Request().Context(), a.d.Views, name)
	if errors.Is(err, viewdata.ErrNotFound) {
		return app.NotFound("No stream with that name (or the admin view has not caught up yet).")
	}
	if err != nil {
		return err
	}
	msgs, err := a.messagePage(c, viewdata.MessageFilter{Stream: name}, name)
	if err != nil {
		return err
	}
	return app.Render(c, http.StatusOK, templates.AdminStreamPage(app.PageFor(c, "Stream "+name), viewdata.AdminStreamView{Stream: s, Messages: msgs}))
}

func (a *App) categories(c echo.Context) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	after, err := nameCursor(c)
	if err != nil {
		return err
	}
	cs, err := viewdata.AdminCategories(c.Request().Context(), a.d.Views, after, limit+1)
	if err != nil {
		return err
	}
	cs, more := onePage(cs, limit)
	v := viewdata.AdminCategoriesView{Categories: cs}
	if more {
		v.NextURL = nextURL(c, "after", encodeName(cs[len(cs)-1].Category))
	}
	return app.Render(c, http.StatusOK, templates.AdminCategoriesPage(app.PageFor(c, "Categories"), v))
}

func (a *App) category(c echo.Context) error {
	name, ok := app.PathParam(c, "name")
	if !ok || name == "" || !messagestore.IsCategory(name) {
		return app.BadRequest("That is not a category.")
	}
	cat, err := viewdata.AdminCategoryByName(c.Request().Context(), a.d.Views, name)
	if errors.Is(err, viewdata.ErrNotFound) {
		if !a.contractsName(name) {
			return app.NotFound("No messages in that category.")
		}
		// A category of the system map that has no message yet (on a new install, most of
		// them): its page says so rather than being a dead link.
		cat, err = viewdata.AdminCategory{Category: name}, nil
	}
	if err != nil {
		return err
	}
	v, err := a.streamList(c, name)
	if err != nil {
		return err
	}
	v.Category = &cat
	return app.Render(c, http.StatusOK, templates.AdminStreamsPage(app.PageFor(c, "Category "+name), v))
}

func (a *App) positions(c echo.Context) error {
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	after, err := nameCursor(c)
	if err != nil {
		return err
	}
	ps, err := viewdata.AdminSubscriberPositions(c.Request().Context(), a.d.Views, after, limit+1)
	if err != nil {
		return err
	}
	ps, more := onePage(ps, limit)
	v := viewdata.AdminPositionsView{Positions: ps, CanRetry: a.d.RequestRetry != nil}
	if more {
		v.NextURL = nextURL(c, "after", encodeName(ps[len(ps)-1].SubscriberID))
	}
	p := app.PageFor(c, "Subscriber positions")
	p.Notice = retriedNotice(c, "Asked the process that runs %s to retry it if it is parked.")
	return app.Render(c, http.StatusOK, templates.AdminPositionsPage(p, v))
}

// --- subscriptions (this process) ---

// Subscriptions returns the health of this process's subscriptions, failing messages redacted.
func (a *App) Subscriptions(ctx context.Context) []viewdata.AdminSubscriptionView {
	sup := a.sup.Load()
	if sup == nil {
		return nil
	}
	heads := map[string]int64{}
	var out []viewdata.AdminSubscriptionView
	for _, sub := range sup.Subscriptions() {
		st := sub.Status()
		head, ok := heads[st.Category]
		if !ok && a.d.Head != nil {
			head, _ = a.d.Head(ctx, st.Category)
			heads[st.Category] = head
		}
		v := viewdata.AdminSubscriptionView{
			SubscriberID: st.SubscriberID, Category: st.Category, State: string(st.State), Position: st.Position,
			SavedPosition: st.SavedPosition, Head: head, Lag: max(0, head-st.Position), Handled: st.Handled,
			Failed: st.Failed, LastError: st.LastError, Attempts: st.Attempts,
			CanRetry: st.State == messagestore.StateParked || st.State == messagestore.StateRetrying,
		}
		if !st.FailingSince.IsZero() {
			v.FailingSince = st.FailingSince.UTC().Format(time.RFC3339)
		}
		if m := st.FailingMessage; m != nil {
			md := m.RawMetadata
			if len(md) == 0 {
				md, _ = json.Marshal(m.Metadata)
			}
			fv := view(viewdata.AdminMessage{ID: m.ID, StreamName: m.StreamName, Type: m.Type, Position: m.Position,
				GlobalPosition: m.GlobalPosition, Data: m.Data, Metadata: md, Time: m.Time})
			v.FailingMessage = &fv
		}
		out = append(out, v)
	}
	return out
}

func (a *App) subscriptions(c echo.Context) error {
	p := app.PageFor(c, "Subscriptions of this process")
	p.Notice = retriedNotice(c, "Asked %s to try its failing message again.")
	return app.Render(c, http.StatusOK, templates.AdminSubscriptionsPage(p, a.Subscriptions(c.Request().Context())))
}

func (a *App) subscriptionsLive(c echo.Context) error {
	if a.d.Hub == nil {
		return app.NotFound("")
	}
	return app.LiveStream(a.d.Hub, app.LiveTopic(LiveTopic))(c)
}

func (a *App) retry(c echo.Context) error {
	sup := a.sup.Load()
	var sub *messagestore.Subscription
	if sup != nil {
		if id, ok := app.PathParam(c, "id"); ok {
			sub = sup.Subscription(id)
		}
	}
	if sub == nil {
		return app.NotFound("This process runs no subscription with that id.")
	}
	sub.Retry()
	app.Logger(c).Info("admin asked a subscription to retry", "subscriber", sub.SubscriberID())
	return c.Redirect(http.StatusSeeOther, retriedURL("/admin/subscriptions", sub.SubscriberID()))
}

// retriedURL is page with the retried parameter that makes it say which subscriber was asked to
// retry (retriedNotice): the page the admin comes back to looks as before the click otherwise.
func retriedURL(page, subscriberID string) string {
	return page + "?" + url.Values{"retried": {subscriberID}}.Encode()
}

// retriedNotice is the page's notice for its retried parameter, "" without one. Anyone's link can
// carry it, so it says only what was asked, never that the retry happened or worked.
func retriedNotice(c echo.Context, format string) string {
	id := c.QueryParam("retried")
	if id == "" || !app.CleanText(id) {
		return ""
	}
	return fmt.Sprintf(format, id)
}

// retryAnywhere asks the process that runs a subscription, whichever it is, to retry it if it is
// parked: a worker's subscriptions are on no process's subscriptions page but this one's positions
// page lists every subscriber.
func (a *App) retryAnywhere(c echo.Context) error {
	if a.d.RequestRetry == nil {
		return app.NotFound("")
	}
	id, ok := app.PathParam(c, "id")
	if !ok || id == "" || !app.CleanText(id) {
		return app.BadRequest("That is not a subscriber id.")
	}
	if err := a.d.RequestRetry(c.Request().Context(), id); err != nil {
		return err
	}
	app.Logger(c).Info("admin asked every process to retry a subscription", "subscriber", id)
	return c.Redirect(http.StatusSeeOther, retriedURL("/admin/subscriber-positions", id))
}

// RunLive publishes the subscriptions' health to LiveTopic every interval while someone watches.
func (a *App) RunLive(ctx context.Context, interval time.Duration) error {
	if a.d.Hub == nil {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if a.d.Hub.Subscribers(LiveTopic) == 0 {
			continue
		}
		fields := map[string]string{}
		for _, s := range a.Subscriptions(ctx) {
			fields[s.SubscriberID+".state"] = s.State
			fields[s.SubscriberID+".position"] = strconv.FormatInt(s.Position, 10)
			fields[s.SubscriberID+".lag"] = strconv.FormatInt(s.Lag, 10)
			fields[s.SubscriberID+".handled"] = strconv.FormatUint(s.Handled, 10)
			fields[s.SubscriberID+".failed"] = strconv.FormatUint(s.Failed, 10)
		}
		b, _ := json.Marshal(fields)
		a.d.Hub.Publish(LiveTopic, "update", string(b))
	}
}

// --- system map ---

func (a *App) contracts() []messagestore.Contract {
	if a.d.Contracts == nil {
		return nil
	}
	return a.d.Contracts()
}

// SystemMap builds the system map from the contracts.
func SystemMap(contracts []messagestore.Contract) viewdata.AdminSystemView {
	var v viewdata.AdminSystemView
	cats := map[string]*viewdata.AdminSystemCategory{}
	cat := func(name string) *viewdata.AdminSystemCategory {
		if cats[name] == nil {
			cats[name] = &viewdata.AdminSystemCategory{Category: name}
		}
		return cats[name]
	}
	for _, c := range contracts {
		s := viewdata.AdminSystemService{Name: c.Name, Kind: c.Kind, Owns: c.Owns, Accepts: c.Accepts, SendsTo: c.SendsTo}
		for _, o := range c.Owns {
			cat(o).Owners = append(cat(o).Owners, c.Name)
		}
		for _, o := range c.Accepts {
			cat(o).Owners = append(cat(o).Owners, c.Name+" (inbox)")
		}
		for _, o := range c.SendsTo {
			cat(o).Senders = append(cat(o).Senders, c.Name)
		}
		for _, sub := range c.Subscribes {
			s.Subscribes = append(s.Subscribes, viewdata.AdminSystemSubscription{SubscriberID: sub.SubscriberID,
				Category: sub.Category, OriginCategory: sub.OriginCategory, Types: sub.Types})
			if sub.Category != messagestore.AllCategories {
				cat(sub.Category).Subscribers = append(cat(sub.Category).Subscribers, c.Name)
			}
		}
		v.Services = append(v.Services, s)
	}
	for _, c := range cats {
		v.Categories = append(v.Categories, *c)
	}
	sort.Slice(v.Categories, func(i, j int) bool { return v.Categories[i].Category < v.Categories[j].Category })
	return v
}

// contractsName reports whether a contract of the system names category (the system map lists it).
func (a *App) contractsName(category string) bool {
	for _, c := range SystemMap(a.contracts()).Categories {
		if c.Category == category {
			return true
		}
	}
	return false
}

func (a *App) system(c echo.Context) error {
	return app.Render(c, http.StatusOK, templates.AdminSystemPage(app.PageFor(c, "System map"), SystemMap(a.contracts())))
}
