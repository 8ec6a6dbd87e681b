package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// leaseClassID is the advisory-lock class of subscription leases (messagestore's leaseClass,
// "VTSU").
const leaseClassID = 0x56545355

// TestDuplicatesAndRaces is scenario 4: two processes share the database under load while their
// subscription leases are torn away again and again (so a stream's messages are handled by one
// process, then the other, with a handler possibly in flight); the same Register command is written
// twice; pairs of registrations for one email race through both processes; several renames of one
// video race; finally every subscription is rewound to position 0 and the whole store is delivered a
// second time, which must write nothing new.
func TestDuplicatesAndRaces(t *testing.T) {
	t.Parallel()
	s := newSystem(t, freshDatabase(t))
	p1 := s.start()
	p2 := s.start()
	ctx := context.Background()
	db := s.db(t)
	cr := newCreator(t, s, fixedBase(p1), 2)
	l := newLedger()
	var rr int64
	var rrMu sync.Mutex
	roundRobin := func() string {
		rrMu.Lock()
		defer rrMu.Unlock()
		rr++
		return []string{p1.base, p2.base}[rr%2]
	}
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 3, creators: []*creator{cr}, base: roundRobin})

	// Leases torn away: terminate the backends holding them, so the other process takes over.
	steals := scale(5, 30)
	for range steals {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if _, err := db.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
			WHERE locktype = 'advisory' AND classid = $1 AND granted`, leaseClassID); err != nil {
			t.Fatal(err)
		}
	}

	// Registrations for one email racing through both processes.
	pairs := scale(5, 25)
	var wg sync.WaitGroup
	raced := make([][2]string, pairs)
	for i := range pairs {
		email := fmt.Sprintf("race-%d-%s@reliability.test", i, uuid.NewString()[:8])
		type form struct {
			c      *client
			userID string
		}
		var forms [2]form
		for j, p := range []*proc{p1, p2} {
			c := newClient(fixedBase(p))
			page, err := c.get("/register")
			if err != nil {
				t.Fatal(err)
			}
			c.token = formValue(page.body, "_csrf")
			forms[j] = form{c, formValue(page.body, "userId")}
		}
		start := make(chan struct{})
		for j := range forms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f := forms[j]
				r, err := f.c.post("/register", url.Values{"userId": {f.userID}, "email": {email}, "password": {"race password"}})
				if err == nil && r.status == http.StatusSeeOther {
					l.mu.Lock()
					l.registrations = append(l.registrations, registration{f.userID, email})
					l.mu.Unlock()
				}
			}()
			raced[i][j] = forms[j].userID
		}
		close(start)
	}
	wg.Wait()

	// Renames of one video racing.
	video := cr.videos[1]
	renames := scale(8, 20)
	for i := range renames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient([]func() string{fixedBase(p1), fixedBase(p2)}[i%2])
			c.hc.Jar = cr.c.hc.Jar
			if trace, _, err := c.operation(video, "name", fmt.Sprintf("race rename %d", i)); err == nil {
				l.mu.Lock()
				l.operations = append(l.operations, operation{trace, video, "name"})
				l.mu.Unlock()
			} else {
				t.Errorf("rename %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	// The same Register command twice: copies of some accepted ones.
	l.mu.Lock()
	regs := append([]registration(nil), l.registrations...)
	l.mu.Unlock()
	copied := 0
	for _, r := range regs[:min(5, len(regs))] {
		tag, err := db.Exec(ctx, `SELECT message_store.write_message(gen_random_uuid()::text, stream_name, type, data, metadata)
			FROM message_store.messages WHERE stream_name = $1 AND type = 'Register' LIMIT 1`, "identity:command-"+r.userID)
		if err != nil {
			t.Fatal(err)
		}
		copied += int(tag.RowsAffected())
	}
	time.Sleep(time.Second)
	ld.finish()
	checkInvariants(t, s, l)

	for i, pair := range raced {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM message_store.messages WHERE stream_name = ANY($1) AND type = 'Registered'`,
			[]string{"identity-" + pair[0], "identity-" + pair[1]}).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			t.Errorf("race %d: both registrations of one email registered", i)
		}
	}
	var name, last string
	if err := db.QueryRow(ctx, `SELECT name FROM creators_portal_videos WHERE id = $1`, video).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT data->>'name' FROM message_store.messages WHERE stream_name = $1 AND type = 'VideoNamed'
		ORDER BY position DESC LIMIT 1`, "videoPublishing-"+video).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if name != last {
		t.Errorf("after racing renames the view says %q, the stream's last VideoNamed %q", name, last)
	}

	// Everything delivered again: rewind every subscription to the beginning.
	before := nonPositionCounts(t, s)
	p1.terminate()
	p2.terminate()
	for _, c := range contracts {
		for _, sc := range c.Subscribes {
			if _, err := db.Exec(ctx, `SELECT message_store.write_message(gen_random_uuid()::text, $1, 'Read', '{"position": 0}')`,
				"subscriberPosition-"+sc.SubscriberID); err != nil {
				t.Fatal(err)
			}
		}
	}
	p1.restart()
	p2.restart()
	checkInvariants(t, s, l)
	if after := nonPositionCounts(t, s); after != before {
		t.Errorf("delivering every message again wrote messages: %s before, %s after", before, after)
	}
	t.Logf("%d lease steals, %d same-email pairs, %d racing renames, %d duplicated Register commands, whole store delivered twice",
		steals, pairs, renames, copied)
}

// nonPositionCounts summarises the store without position saves: messages per category.
func nonPositionCounts(t *testing.T, s *system) string {
	t.Helper()
	var out string
	err := s.db(t).QueryRow(context.Background(), `SELECT coalesce(string_agg(c || '=' || n, ' ' ORDER BY c), '') FROM (
		SELECT message_store.category(stream_name) AS c, count(*) AS n FROM message_store.messages
		WHERE message_store.category(stream_name) <> 'subscriberPosition' GROUP BY 1) x`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
