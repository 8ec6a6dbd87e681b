package reliability

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// ledger is what the load driver knows the system accepted: a request answered 303 was accepted; a
// request whose answer was lost (the process died, the connection broke) may or may not have been,
// and is only counted as unknown. The invariants compare the message store and the views with it.
type ledger struct {
	mu            sync.Mutex
	registrations []registration
	regUnknown    int
	viewings      map[string]string // trace id → video id
	viewUnknown   int
	operations    []operation
	uploads       []string // video ids of accepted uploads
	opUnknown     int
}

type registration struct{ userID, email string }

type operation struct{ traceID, videoID, kind string }

func newLedger() *ledger { return &ledger{viewings: map[string]string{}} }

func (l *ledger) counts() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d registrations (+%d unknown), %d viewings (+%d unknown), %d name/describe commands and %d uploads (+%d unknown)",
		len(l.registrations), l.regUnknown, len(l.viewings), l.viewUnknown, len(l.operations), len(l.uploads), l.opUnknown)
}

// creator is a signed-in user with published videos, whose videos the load names, describes and
// watches.
type creator struct {
	c      *client
	userID string
	videos []string
}

// newCreator signs a creator up and publishes n videos, waiting until they are published.
func newCreator(t *testing.T, s *system, base func() string, n int) *creator {
	t.Helper()
	content, err := clip()
	if err != nil {
		t.Fatal(err)
	}
	cr := &creator{c: newClient(base)}
	email := "creator-" + uuid.NewString()[:8] + "@reliability.test"
	if cr.userID, err = cr.c.signUp(email, "creator password", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	for range n {
		var id string
		eventually(t, 60*time.Second, "an upload", func() bool {
			id, _, err = cr.c.upload("clip.webm", content)
			return err == nil
		})
		cr.videos = append(cr.videos, id)
	}
	db := s.db(t)
	for _, id := range cr.videos {
		eventually(t, 60*time.Second, "video "+id+" published", func() bool {
			var status string
			_ = db.QueryRow(t.Context(), `SELECT status FROM creators_portal_videos WHERE id = $1`, id).Scan(&status)
			return status == "published"
		})
	}
	return cr
}

// load drives the system over HTTP with goroutines: registrations, viewings and name/describe
// commands, as fast as the processes answer (with a short pause after an error).
type load struct {
	t       *testing.T
	ledger  *ledger
	stop    chan struct{}
	wg      sync.WaitGroup
	ok      atomic.Int64
	errs    atomic.Int64
	started time.Time
}

type loadOptions struct {
	registrars, viewers int
	creators            []*creator
	// base picks the process for each client; nil means the first process.
	base func() string
}

func startLoad(t *testing.T, s *system, l *ledger, o loadOptions) *load {
	base := o.base
	if base == nil {
		first := s.processes()[0]
		base = fixedBase(first)
	}
	ld := &load{t: t, ledger: l, stop: make(chan struct{}), started: time.Now()}
	pause := func() bool {
		select {
		case <-ld.stop:
			return false
		case <-time.After(100 * time.Millisecond):
			return true
		}
	}
	stopped := func() bool {
		select {
		case <-ld.stop:
			return true
		default:
			return false
		}
	}
	for range o.registrars {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			c := newClient(base)
			for !stopped() {
				email := "user-" + uuid.NewString()[:13] + "@reliability.test"
				userID, r, err := c.register(email, "a password of a user")
				l.mu.Lock()
				switch {
				case err == nil && r.status == http.StatusSeeOther:
					l.registrations = append(l.registrations, registration{userID, email})
				case userID != "" && (err != nil || r.status >= 500):
					l.regUnknown++ // the form was fetched; the POST may have been written
				}
				l.mu.Unlock()
				ld.count(err == nil && r.status == http.StatusSeeOther, pause)
			}
		}()
	}
	var videos []string
	for _, cr := range o.creators {
		videos = append(videos, cr.videos...)
	}
	l.mu.Lock()
	l.uploads = append(l.uploads, videos...)
	l.mu.Unlock()
	for range o.viewers {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			c := newClient(base)
			for !stopped() {
				id := uuid.NewString()
				if len(videos) > 0 && rand.IntN(4) != 0 {
					id = videos[rand.IntN(len(videos))]
				}
				r, err := c.recordViewing(id)
				l.mu.Lock()
				switch {
				case err == nil && r.status == http.StatusSeeOther:
					l.viewings[r.trace] = id
				case err != nil || r.status >= 500:
					l.viewUnknown++
				}
				l.mu.Unlock()
				ld.count(err == nil && r.status == http.StatusSeeOther, pause)
			}
		}()
	}
	for _, cr := range o.creators {
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			c := newClient(base)
			c.hc.Jar = cr.c.hc.Jar // the creator's session
			content, _ := clip()
			for i := 0; !stopped(); i++ {
				if i%10 == 9 {
					// Now and then a new video: publishing is a command too.
					id, r, err := c.upload("clip.webm", content)
					l.mu.Lock()
					switch {
					case id != "":
						l.uploads = append(l.uploads, id)
					case err != nil && (r.status == 0 || r.status >= 500):
						l.opUnknown++
					}
					l.mu.Unlock()
					ld.count(id != "", pause)
					continue
				}
				kind := []string{"name", "describe"}[i%2]
				video := cr.videos[rand.IntN(len(cr.videos))]
				value := fmt.Sprintf("%s %d of %s", kind, i, video[:8])
				trace, r, err := c.operation(video, kind, value)
				l.mu.Lock()
				switch {
				case trace != "":
					l.operations = append(l.operations, operation{trace, video, kind})
				case err != nil && (r.status == 0 || r.status >= 500):
					l.opUnknown++
				}
				l.mu.Unlock()
				ld.count(trace != "", pause)
			}
		}()
	}
	return ld
}

func (ld *load) count(ok bool, pause func() bool) {
	if ok {
		ld.ok.Add(1)
		return
	}
	ld.errs.Add(1)
	pause()
}

// finish stops the load and waits for its requests to end.
func (ld *load) finish() {
	close(ld.stop)
	ld.wg.Wait()
	ld.t.Logf("load: %d requests accepted, %d failed in %s; %s", ld.ok.Load(), ld.errs.Load(),
		time.Since(ld.started).Round(time.Millisecond), ld.ledger.counts())
}
