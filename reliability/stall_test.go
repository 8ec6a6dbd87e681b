package reliability

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverProcesses returns the PostgreSQL server's processes: the postmaster and its children.
func (d *dbServer) serverProcesses(t *testing.T) []int {
	t.Helper()
	d.mu.Lock()
	pm := d.srv.Pid()
	d.mu.Unlock()
	pids := []int{pm}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses, so split after the last ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// freeze stops (SIGSTOP) every process of the server, as a hung machine or a paused VM would: its
// connections stay open and answer nothing. thaw (SIGCONT) lets them go on.
func (d *dbServer) freeze(t *testing.T) []int {
	t.Helper()
	pids := d.serverProcesses(t)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	return pids
}

func thaw(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
}

// TestDatabaseStalls breaks the database in the ways a clean restart (TestDatabaseRestart) does not,
// under load, and then checks every invariant:
//
//   - the whole server frozen (SIGSTOP) for a few seconds: connections open, nothing answered;
//   - every connection of the program terminated (pg_terminate_backend), several times;
//   - a statement_timeout of a few milliseconds on the program's database for a while (every new
//     connection gets it), then lifted;
//   - the server frozen while the program is SIGKILLed and restarted: whatever a handler did before
//     its write reached the server (an email file, a transcode) is done again after the restart,
//     and must still be done once as far as anyone can see.
func TestDatabaseStalls(t *testing.T) {
	t.Parallel()
	srv, err := startDBServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)
	dbURL := srv.newDatabase(t)
	s := newSystem(t, dbURL)
	p := s.start()
	cr := newCreator(t, s, fixedBase(p), 2)
	l := newLedger()
	ld := startLoad(t, s, l, loadOptions{registrars: 2, viewers: 3, creators: []*creator{cr}})
	ctx := context.Background()
	db := s.db(t)
	var dbName string
	if err := db.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	resumes := func(what string) {
		t.Helper()
		before := ld.ok.Load()
		eventually(t, 30*time.Second, "the load to be accepted again after "+what, func() bool { return ld.ok.Load() > before+20 })
		if !p.alive() {
			t.Fatalf("the program exited after %s:\n%s", what, tailFile(p.logPath, 30))
		}
	}
	terminateAll := func() {
		t.Helper()
		if _, err := db.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
	}

	for round := range scale(1, 4) {
		time.Sleep(time.Second)
		pids := srv.freeze(t)
		time.Sleep(scale(3*time.Second, 10*time.Second))
		thaw(pids)
		resumes(fmt.Sprintf("a frozen server (round %d)", round+1))

		for range scale(3, 10) {
			time.Sleep(300 * time.Millisecond)
			terminateAll()
		}
		resumes("terminated connections")

		if _, err := db.Exec(ctx, `ALTER DATABASE `+dbName+` SET statement_timeout = '3ms'`); err != nil {
			t.Fatal(err)
		}
		terminateAll()
		time.Sleep(scale(3*time.Second, 10*time.Second))
		if _, err := db.Exec(ctx, `ALTER DATABASE `+dbName+` RESET statement_timeout`); err != nil {
			t.Fatal(err)
		}
		terminateAll()
		resumes("a tiny statement_timeout")

		pids = srv.freeze(t)
		time.Sleep(time.Second)
		p.kill()
		thaw(pids)
		p.restart()
		resumes("a kill while the server was frozen")
	}
	time.Sleep(time.Second)
	ld.finish()
	if b, err := os.ReadFile(p.logPath); err == nil {
		log := string(b)
		t.Logf("program log: %d statement timeouts, %d terminated connections, %d parked, %d WARN, %d ERROR lines",
			strings.Count(log, "statement timeout"), strings.Count(log, "terminating connection"),
			strings.Count(log, "parked until retried"), strings.Count(log, "level=WARN"), strings.Count(log, "level=ERROR"))
	}
	if code, body := p.readyz(); code != http.StatusOK {
		t.Errorf("/readyz %d %s", code, body)
	}
	checkInvariants(t, s, l)
}
