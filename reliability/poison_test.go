package reliability

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"videotutorials/aggregators/creatorsvideos"
)

// TestPoisonMessage makes one aggregator's handler fail for one message (scenario 3): a check
// constraint an operator added to creators_portal_videos refuses names that start with "poison", so
// the VideoNamed of such a name cannot be applied. Only that subscription parks: the load goes on,
// the other subscriptions of the same category (video-operations) go on, /readyz reports the parked
// subscription. Once the constraint is dropped, an admin's retry from the admin portal resumes it and
// nothing is lost.
func TestPoisonMessage(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	p := s.start()
	ctx := context.Background()
	db := s.db(t)
	admin := newClient(fixedBase(p))
	if _, err := admin.signUp(adminEmail, "admin password", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	cr := newCreator(t, s, fixedBase(p), 2)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 1, viewers: 2, creators: []*creator{cr}})

	if _, err := db.Exec(ctx, `ALTER TABLE creators_portal_videos ADD CONSTRAINT reliability_poison
		CHECK (name NOT LIKE 'poison%') NOT VALID`); err != nil {
		t.Fatal(err)
	}
	video := cr.videos[0]
	poisoner := newClient(fixedBase(p))
	poisoner.hc.Jar = cr.c.hc.Jar
	trace, _, err := poisoner.operation(video, "name", "poison pill")
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.operations = append(l.operations, operation{trace, video, "name"})
	l.mu.Unlock()

	eventually(t, 30*time.Second, "/readyz to report the parked subscription", func() bool {
		code, body := p.readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, creatorsvideos.SubscriberID+`"`)
	})
	_, body := p.readyz()
	t.Logf("parked: /readyz says %s", strings.TrimSpace(body))
	// The positions page shows the park from the subscription's status stream, as a web process that
	// does not run the subscription would (subscriberStatus-<id>, admin-subscriber-positions).
	eventually(t, 30*time.Second, "the positions page to show the park and its error", func() bool {
		page, err := admin.get("/admin/subscriber-positions?limit=200")
		return err == nil && page.status == http.StatusOK && strings.Contains(page.body, "reliability_poison")
	})
	// The operation itself is decided (video-operations is another subscription) while the
	// dashboard's view is stuck.
	eventually(t, 30*time.Second, "video-operations to record the poisoned rename", func() bool {
		var ok bool
		_ = db.QueryRow(ctx, `SELECT succeeded FROM video_operations WHERE trace_id = $1`, trace).Scan(&ok)
		return ok
	})
	// Everything else goes on: the load is accepted and the home page counts.
	before := ld.ok.Load()
	count0, _ := newClient(fixedBase(p)).homeCount()
	eventually(t, 30*time.Second, "the rest of the system to go on", func() bool {
		n, _ := newClient(fixedBase(p)).homeCount()
		return ld.ok.Load() > before+20 && n > count0
	})
	if code, _ := p.readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("the subscription did not stay parked")
	}

	// Nobody but an admin may retry.
	anyone := newClient(fixedBase(p))
	if r, err := anyone.post("/admin/subscriptions/"+url.PathEscape(creatorsvideos.SubscriberID)+"/retry", url.Values{}); err != nil ||
		(r.status != http.StatusForbidden && r.status != http.StatusNotFound && r.status != http.StatusSeeOther) ||
		(r.status == http.StatusSeeOther && !strings.Contains(r.location, "log-in")) {
		t.Fatalf("anonymous retry: %d %q %v", r.status, r.location, err)
	}

	// The operator fixes the cause, then an admin retries.
	if _, err := db.Exec(ctx, `ALTER TABLE creators_portal_videos DROP CONSTRAINT reliability_poison`); err != nil {
		t.Fatal(err)
	}
	page, err := admin.get("/admin/subscriptions")
	if err != nil || page.status != http.StatusOK || !strings.Contains(page.body, "parked") {
		t.Fatalf("admin subscriptions page: %d %v", page.status, err)
	}
	admin.token = formValue(page.body, "_csrf")
	r, err := admin.post("/admin/subscriptions/"+url.PathEscape(creatorsvideos.SubscriberID)+"/retry", url.Values{})
	if err != nil || r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d %v\n%s", r.status, err, r.body)
	}
	retried := time.Now()
	eventually(t, 30*time.Second, "/readyz 200 after the retry", func() bool {
		code, _ := p.readyz()
		return code == http.StatusOK
	})
	t.Logf("resumed %s after the retry", time.Since(retried).Round(time.Millisecond))
	eventually(t, 30*time.Second, "the positions page to show the subscription resumed", func() bool {
		page, err := admin.get("/admin/subscriber-positions?limit=200")
		return err == nil && page.status == http.StatusOK && !strings.Contains(page.body, "reliability_poison")
	})
	time.Sleep(time.Second)
	ld.finish()
	checkInvariants(t, s, l)
	// The poisoned name arrived too, unless a later rename of the load replaced it.
	var name string
	var named int64
	if err := db.QueryRow(ctx, `SELECT name, name_position FROM creators_portal_videos WHERE id = $1`, video).Scan(&name, &named); err != nil {
		t.Fatal(err)
	}
	var last string
	if err := db.QueryRow(ctx, `SELECT data->>'name' FROM message_store.messages WHERE stream_name = $1 AND type = 'VideoNamed'
		ORDER BY position DESC LIMIT 1`, "videoPublishing-"+video).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if name != last {
		t.Errorf("video %s is named %q in the view; its last VideoNamed says %q", video, name, last)
	}
}
