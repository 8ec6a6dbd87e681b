package recordviewings_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/app"
	"videotutorials/app/apptest"
	"videotutorials/app/recordviewings"
	"videotutorials/app/recordviewings/viewingmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

func setup(t *testing.T) (*apptest.Browser, *messagestore.Store) {
	t.Helper()
	store := testdb.NewStore(t)
	srv := apptest.NewServer(t, app.Deps{}, recordviewings.New(recordviewings.Deps{Store: store, Logger: testdb.Quiet}))
	return apptest.NewBrowser(t, srv), store
}

// record posts the record-viewing form with a valid token and the given Referer.
func record(b *apptest.Browser, videoID, referer string) *httptest.ResponseRecorder {
	b.T.Helper()
	token := b.CSRF("/t/token")
	req := httptest.NewRequest(http.MethodPost, "/record-viewing/"+videoID, strings.NewReader(url.Values{"_csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	return b.Do(req)
}

func TestRecordViewingAnonymously(t *testing.T) {
	b, store := setup(t)
	videoID := uuid.NewString()
	rec := record(b, videoID, "")
	apptest.WantStatus(t, rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/" {
		t.Fatalf("Location %q", loc)
	}
	msgs := testdb.ReadStream(t, store, viewingmsg.StreamName(videoID))
	if len(msgs) != 1 || msgs[0].Type != "VideoViewed" {
		t.Fatalf("stream holds %+v", msgs)
	}
	var data map[string]any
	if err := json.Unmarshal(msgs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data) != 1 || data["videoId"] != videoID {
		t.Errorf("data %s, want only videoId", msgs[0].Data)
	}
	if md := msgs[0].Metadata; md.TraceID != rec.Header().Get(app.HeaderTraceID) || md.UserID != "" {
		t.Errorf("metadata %+v, want the request's trace id and no user", md)
	}
}

func TestRecordViewingOfSignedInUser(t *testing.T) {
	b, store := setup(t)
	userID, videoID := uuid.NewString(), uuid.NewString()
	b.SignIn(userID)
	apptest.WantStatus(t, record(b, videoID, ""), http.StatusSeeOther)
	apptest.WantStatus(t, record(b, videoID, ""), http.StatusSeeOther)
	msgs := testdb.ReadStream(t, store, viewingmsg.StreamName(videoID))
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want one per viewing", len(msgs))
	}
	var viewed viewingmsg.VideoViewed
	if err := msgs[1].Decode(&viewed); err != nil {
		t.Fatal(err)
	}
	if viewed != (viewingmsg.VideoViewed{UserID: userID, VideoID: videoID}) || msgs[1].Metadata.UserID != userID {
		t.Errorf("data %+v metadata %+v", viewed, msgs[1].Metadata)
	}
	if msgs[0].Metadata.TraceID == msgs[1].Metadata.TraceID {
		t.Error("two requests share a trace id")
	}
}

func TestRecordViewingNormalisesTheID(t *testing.T) {
	b, store := setup(t)
	videoID := uuid.NewString()
	apptest.WantStatus(t, record(b, strings.ToUpper(videoID), ""), http.StatusSeeOther)
	if n := len(testdb.ReadStream(t, store, viewingmsg.StreamName(videoID))); n != 1 {
		t.Fatalf("%d messages in the lower-case stream", n)
	}
}

func TestRecordViewingRedirectsBackOnlyWithinTheSite(t *testing.T) {
	b, _ := setup(t)
	for referer, want := range map[string]string{
		"":                                      "/",
		"http://example.com/":                   "/", // httptest's host is example.com
		"http://example.com/videos/1?t=3":       "/videos/1?t=3",
		"/creators-portal/":                     "/creators-portal/",
		"https://evil.example/phish":            "/",
		"http://example.com.evil.example/":      "/",
		"//evil.example/x":                      "/",
		"http://user@example.com/":              "/",
		"javascript:alert(1)":                   "/",
		"http://example.com//evil.example/path": "/",
		"/\\evil.example":                       "/",
	} {
		rec := record(b, uuid.NewString(), referer)
		apptest.WantStatus(t, rec, http.StatusSeeOther)
		if loc := rec.Header().Get("Location"); loc != want {
			t.Errorf("Referer %q: Location %q, want %q", referer, loc, want)
		}
	}
}

func TestRecordViewingRefusesBadInput(t *testing.T) {
	b, store := setup(t)
	for _, id := range []string{"12345", "not-a-uuid", "6f1c5a4e3c6b4c1f9a552b8f1e7d0c11", "{6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11}",
		"urn:uuid:6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c11", "6f1c5a4e-3c6b-4c1f-9a55-2b8f1e7d0c1z"} {
		rec := record(b, url.PathEscape(id), "")
		apptest.WantStatus(t, rec, http.StatusBadRequest)
		if !strings.Contains(rec.Body.String(), "That video id is not valid.") {
			t.Errorf("%q: no explanation on the 400 page", id)
		}
	}
	for _, id := range []string{"12345", "not-a-uuid"} {
		if n := len(testdb.ReadStream(t, store, viewingmsg.StreamName(id))); n != 0 {
			t.Errorf("wrote %d messages for %q", n, id)
		}
	}

	t.Run("no CSRF token", func(t *testing.T) {
		b.CSRF("/t/token") // has a session
		rec := b.Post("/record-viewing/"+uuid.NewString(), url.Values{})
		apptest.WantStatus(t, rec, http.StatusForbidden)
	})
	t.Run("no session", func(t *testing.T) {
		other, _ := setup(t)
		rec := other.Post("/record-viewing/"+uuid.NewString(), url.Values{"_csrf": {b.CSRF("/t/token")}})
		apptest.WantStatus(t, rec, http.StatusForbidden)
	})
	t.Run("oversized body", func(t *testing.T) {
		form := url.Values{"_csrf": {b.CSRF("/t/token")}, "padding": {strings.Repeat("x", 2<<20)}}
		apptest.WantStatus(t, b.Post("/record-viewing/"+uuid.NewString(), form), http.StatusRequestEntityTooLarge)
	})
	t.Run("GET", func(t *testing.T) {
		apptest.WantStatus(t, b.Get("/record-viewing/"+uuid.NewString()), http.StatusMethodNotAllowed)
	})
}

// When the database does not answer in time (here: another session holds the viewing category's
// lock, as a stalled writer would), the viewing is answered 503 with Retry-After once the request
// deadline passes, instead of after as long as the client waits; once the database answers again so
// does the application.
func TestRecordViewingAnswers503WhenTheDatabaseDoesNotAnswer(t *testing.T) {
	store := testdb.NewStore(t)
	srv := apptest.NewServer(t, app.Deps{Timeouts: app.Timeouts{Request: 300 * time.Millisecond}},
		recordviewings.New(recordviewings.Deps{Store: store, Logger: testdb.Quiet}))
	b := apptest.NewBrowser(t, srv)

	ctx := context.Background()
	tx := testdb.NewTx(t)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(message_store.hash_64($1))`, viewingmsg.Category); err != nil {
		t.Fatal(err)
	}
	rec := record(b, uuid.NewString(), "")
	apptest.WantStatus(t, rec, http.StatusServiceUnavailable)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After on the 503")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	videoID := uuid.NewString()
	apptest.WantStatus(t, record(b, videoID, ""), http.StatusSeeOther)
	if msgs := testdb.ReadStream(t, store, viewingmsg.StreamName(videoID)); len(msgs) != 1 {
		t.Fatalf("after the lock: %d messages", len(msgs))
	}
}
