package reliability

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDatabaseRestart stops the PostgreSQL server in the middle of the load and starts it again on the
// same data directory and port (scenario 2). The program keeps running, says 503 on /readyz while the
// database is away, and resumes by itself: /readyz 200 again and the load's requests accepted again.
func TestDatabaseRestart(t *testing.T) {
	t.Parallel()
	srv, err := startDBServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	s := newSystem(t, srv.newDatabase(t))
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 2)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 3, creators: []*creator{cr}})

	for round := range scale(1, 5) {
		time.Sleep(scale(2*time.Second, 10*time.Second))
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		eventually(t, 15*time.Second, "/readyz to say 503 while the database is down", func() bool {
			code, body := p.readyz()
			return code == http.StatusServiceUnavailable && strings.Contains(body, "unreachable")
		})
		notReady := time.Since(stopped)
		down := scale(2*time.Second, 8*time.Second)
		time.Sleep(down - min(down, notReady))
		if !p.alive() {
			t.Fatalf("the program exited while the database was down:\n%s", tailFile(p.logPath, 30))
		}
		before := ld.ok.Load()
		if err := srv.start(); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		eventually(t, 30*time.Second, "/readyz 200 after the database is back", func() bool {
			code, _ := p.readyz()
			return code == http.StatusOK
		})
		ready := time.Since(started)
		eventually(t, 30*time.Second, "the load to be accepted again", func() bool { return ld.ok.Load() > before+20 })
		t.Logf("round %d: /readyz 503 %s after the stop; database down %s; /readyz 200 %s and work resumed %s after the start",
			round+1, notReady.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond)-time.Since(started).Round(time.Millisecond),
			ready.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	}
	time.Sleep(time.Second)
	ld.finish()
	checkInvariants(t, s, l)
}
