package reliability

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// foreignMessages are messages another Message DB client could write into the categories the
// components and aggregators read: every type they handle and an unknown one, with data and metadata
// of every wrong shape, in streams whose ids are no UUIDs or UUIDs spelt in other forms.
func foreignMessages() (streams, types, datas, metas []string) {
	categories := map[string][]string{
		"viewing":                 {"VideoViewed"},
		"authentication":          {"UserLoggedIn", "UserLoginFailed", "UserLoggedOut"},
		"identity:command":        {"Register"},
		"identity":                {"Registered", "RegistrationRejected", "RegistrationEmailSent", "RegistrationEmailFailed"},
		"sendEmail:command":       {"Send"},
		"sendEmail":               {"Sent", "Failed"},
		"videoPublishing:command": {"PublishVideo", "NameVideo", "DescribeVideo"},
		"videoPublishing": {"VideoPublished", "VideoPublishingFailed", "VideoNamed", "VideoNameRejected",
			"VideoDescribed", "VideoDescriptionRejected"},
		"subscriberStatus":         {"Parked", "Resumed"},
		"identityEmailReservation": {"EmailReserved"},
	}
	u := func() string { return uuid.NewString() }
	dataShapes := []string{`null`, `[]`, `"text"`, `123`, `{}`, `[1, 2, 3]`,
		`{"userId": 5, "videoId": 6, "emailId": 7, "name": 8, "description": 9, "ownerId": 10, "email": 11}`,
		fmt.Sprintf(`{"userId": "urn:uuid:%s", "email": "foreign-%s@reliability.test", "passwordHash": "h"}`, u(), u()[:8]),
		fmt.Sprintf(`{"userId": "%s", "videoId": "%s", "emailId": "%s", "ownerId": "%s", "email": ["x"]}`,
			strings.ToUpper(u()), "{"+u()+"}", strings.ReplaceAll(u(), "-", ""), "urn:uuid:"+u()),
		`{"position": -5, "globalPosition": "x", "attempts": 99999999999, "error": 5}`,
		fmt.Sprintf(`{"emailId": "%s", "to": "a@b.c\r\nBcc: x@y.z", "subject": "s\r\nX: y", "text": "t"}`, u()),
		fmt.Sprintf(`{"ownerId": "%s", "sourceUri": "file:../../../etc/passwd", "videoId": "%s"}`, u(), u()),
		strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200),
		fmt.Sprintf(`{"name": "%[1]s", "description": "%[1]s", "reason": "%[1]s", "email": "%[1]s"}`, strings.Repeat("é", 100000)),
	}
	metaShapes := []string{`null`, `[]`, `{}`, `{"traceId": 5, "userId": [1]}`, `{"originStreamName": 7}`,
		fmt.Sprintf(`{"originStreamName": "identity-%s", "traceId": "%s", "userId": "%s"}`, u(), u(), u()),
		`{"causationMessageGlobalPosition": "x", "causationMessagePosition": 1e40}`,
		fmt.Sprintf(`{"causationMessageStreamName": "videoPublishing:command-%s", "causationMessageGlobalPosition": 9223372036854775807}`, u()),
		fmt.Sprintf(`{"traceId": "%s"}`, strings.Repeat("t", 5000)),
	}
	n := 0
	for category, ts := range categories {
		for _, typ := range append(ts, "SomethingElse") {
			for i, data := range dataShapes {
				id := u()
				ids := []string{id, strings.ToUpper(id), "urn:uuid:" + id, "{" + id + "}", strings.ReplaceAll(id, "-", ""),
					"not-a-uuid", id + "+" + u(), "x'); DROP TABLE pages; --"}
				streams = append(streams, category+"-"+ids[(i+n)%len(ids)])
				types = append(types, typ)
				datas = append(datas, data)
				metas = append(metas, metaShapes[(i+n)%len(metaShapes)])
				n++
			}
		}
	}
	return streams, types, datas, metas
}

// TestForeignWriters has another Message DB client write messages of every wrong shape into every
// category the components and aggregators read, while the load goes on. Nothing may park or crash,
// every subscription must reach its category's head, and what the load did must be all there: each
// accepted registration decided once with one email, each viewing counted once, each rename answered.
func TestForeignWriters(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 1)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 1, viewers: 2, creators: []*creator{cr}})
	ctx := context.Background()
	db := s.db(t)
	streams, types, datas, metas := foreignMessages()
	for round := range scale(1, 5) {
		if _, err := db.Exec(ctx, `SELECT message_store.write_message(gen_random_uuid()::text, s, t, d::jsonb, m::jsonb)
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS f(s, t, d, m)`, streams, types, datas, metas); err != nil {
			t.Fatalf("round %d: %v", round+1, err)
		}
		time.Sleep(time.Second)
		streams, types, datas, metas = foreignMessages() // new ids for the next round
	}
	time.Sleep(time.Second)
	ld.finish()

	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		behind := subscriptionsBehind(t, db, nil)
		if len(behind) == 0 {
			break
		}
		if time.Now().After(deadline) {
			code, body := p.readyz()
			t.Fatalf("subscriptions short of their categories' heads after 90s: %v; /readyz %d %s", behind, code, body)
		}
	}
	if code, body := p.readyz(); code != http.StatusOK {
		t.Errorf("/readyz %d %s", code, body)
	}
	if b, err := os.ReadFile(p.logPath); err == nil {
		for _, bad := range []string{"subscription parked", "handler panicked", "panic:"} {
			if n := strings.Count(string(b), bad); n > 0 {
				t.Errorf("program log: %d × %q", n, bad)
			}
		}
	}

	l.mu.Lock()
	regs, ops := append([]registration(nil), l.registrations...), append([]operation(nil), l.operations...)
	viewings := map[string]string{}
	for k, v := range l.viewings {
		viewings[k] = v
	}
	l.mu.Unlock()
	typesOf := streamTypeCounts(t, db, "identity")
	files := emailFiles(t, s.emailDir)
	for _, r := range regs {
		ev := typesOf["identity-"+r.userID]
		if ev["Registered"]+ev["RegistrationRejected"] != 1 {
			t.Errorf("registration %s: outcomes %v", r.userID, ev)
			continue
		}
		if ev["Registered"] == 1 && (ev["RegistrationEmailSent"]+ev["RegistrationEmailFailed"] != 1 || files[r.email] != 1) {
			t.Errorf("registration %s: email events %v, %d files", r.userID, ev, files[r.email])
		}
	}
	var stored, home int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM message_store.messages
		WHERE message_store.category(stream_name) = 'viewing' AND type = 'VideoViewed'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT (page_data->>'videosWatched')::bigint FROM pages WHERE page_name = 'home'`).Scan(&home); err != nil {
		t.Fatal(err)
	}
	if home != stored {
		t.Errorf("home page view: %d videos watched; the store has %d viewings", home, stored)
	}
	for trace, video := range viewings {
		var n int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM message_store.messages WHERE stream_name = 'viewing-' || $1
			AND metadata->>'traceId' = $2`, video, trace).Scan(&n)
		if n != 1 {
			t.Errorf("viewing %s of %s stored %d times", trace, video, n)
		}
	}
	for _, v := range cr.videos {
		var views, want int
		if err := db.QueryRow(ctx, `SELECT views, (SELECT count(*) FROM message_store.messages
			WHERE stream_name = 'viewing-' || $1::text AND type = 'VideoViewed') FROM creators_portal_videos WHERE id = $1::uuid`, v).
			Scan(&views, &want); err != nil || views != want {
			t.Errorf("video %s: %d views, %d viewings stored (%v)", v, views, want, err)
		}
	}
	for _, op := range ops {
		var found bool
		_ = db.QueryRow(ctx, `SELECT true FROM video_operations WHERE trace_id = $1`, op.traceID).Scan(&found)
		if !found {
			t.Errorf("%s of %s (trace %s): no outcome recorded", op.kind, op.videoID, op.traceID)
		}
	}
	t.Logf("%d foreign messages a round; %s", len(streams), l.counts())
}
