package reliability

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/devdb"
)

// longRun selects the long versions of the scenarios: longer loads, more kills, the memory run.
var longRun = flag.Bool("reliability.long", false, "run the long versions of the reliability scenarios (tens of minutes; not for CI)")

// scale returns short or long depending on -reliability.long.
func scale[T any](short, long T) T {
	if *longRun {
		return long
	}
	return short
}

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// atExit registers f to run when the test binary is done (shared database servers, the binary).
func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	cleanupMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanupMu.Unlock()
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// programBinary builds the program once per test binary (go build of the module root) and returns
// the executable's path; RELIABILITY_BINARY names a prebuilt one instead.
func programBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("RELIABILITY_BINARY"); bin != "" {
			binPath = bin // a program built elsewhere (another commit, a race build)
			return
		}
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "videotutorials-reliability-bin-")
		if err != nil {
			buildErr = err
			return
		}
		atExit(func() { os.RemoveAll(dir) })
		binPath = filepath.Join(dir, "videotutorials")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// quiet is the logger handed to devdb.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dbServer is a throw-away PostgreSQL that a test may stop and start again on the same data
// directory and port.
type dbServer struct {
	dir  string
	port int
	mu   sync.Mutex
	srv  *devdb.Server
}

func startDBServer() (*dbServer, error) {
	dir, err := os.MkdirTemp("", "videotutorials-reliability-db-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &dbServer{dir: dir, port: port}
	if err := d.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

func (d *dbServer) start() error {
	srv, err := devdb.Start(context.Background(), devdb.Options{Dir: d.dir, Throwaway: true, Port: d.port, Logger: quiet()})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.srv = srv
	d.mu.Unlock()
	return nil
}

func (d *dbServer) stop() error {
	d.mu.Lock()
	srv := d.srv
	d.mu.Unlock()
	return srv.Stop(context.Background())
}

func (d *dbServer) close() {
	_ = d.stop()
	os.RemoveAll(d.dir)
}

// newDatabase creates a fresh database on the server and returns its URL.
func (d *dbServer) newDatabase(t *testing.T) string {
	t.Helper()
	d.mu.Lock()
	srv := d.srv
	d.mu.Unlock()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := "rel_" + strings.ReplaceAll(uuid.NewString()[:18], "-", "_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	u.Path = "/" + name
	return u.String()
}

var (
	sharedOnce sync.Once
	shared     *dbServer
	sharedErr  error
)

// freshDatabase returns a new, empty database on the shared throw-away server.
func freshDatabase(t *testing.T) string {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = startDBServer()
		if sharedErr == nil {
			atExit(shared.close)
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared.newDatabase(t)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// adminEmail is the admin user of every system (ADMIN_EMAILS).
const adminEmail = "admin@reliability.test"

// system is one deployment under test: one database and the processes of the program that share it,
// with one pickup directory, one media directory and one session secret.
type system struct {
	t        *testing.T
	dbURL    string
	dir      string
	emailDir string
	mediaDir string
	env      []string

	mu    sync.Mutex
	procs []*proc
	pool  *pgxpool.Pool
}

func newSystem(t *testing.T, dbURL string, env ...string) *system {
	t.Helper()
	dir := t.TempDir()
	s := &system{t: t, dbURL: dbURL, dir: dir, emailDir: filepath.Join(dir, "email"), mediaDir: filepath.Join(dir, "media")}
	s.env = append([]string{
		"DATABASE_URL=" + dbURL,
		"EMAIL_DIRECTORY=" + s.emailDir,
		"MEDIA_DIRECTORY=" + s.mediaDir,
		"DEV_DATA_DIR=" + filepath.Join(dir, "dev"),
		"SESSION_SECRET=reliability-session-secret-0123456789abcdef",
		"ADMIN_EMAILS=" + adminEmail,
		"LEASE_INTERVAL=200ms",
		"SHUTDOWN_TIMEOUT=10s",
		"LOG_FORMAT=text",
		"LOG_LEVEL=info",
		"HOST=127.0.0.1",
	}, env...)
	t.Cleanup(func() {
		s.mu.Lock()
		procs := append([]*proc(nil), s.procs...)
		s.mu.Unlock()
		for _, p := range procs {
			p.terminate()
		}
		if t.Failed() {
			for _, p := range procs {
				t.Logf("log of process %d (tail):\n%s", p.n, tailFile(p.logPath, 60))
			}
		}
	})
	return s
}

// proc is one process of the program. It keeps its port across restarts.
type proc struct {
	s       *system
	n       int
	port    int
	base    string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts a new process of the program with extra environment and waits until it serves.
func (s *system) start(env ...string) *proc {
	s.t.Helper()
	port, err := freePort()
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	p := &proc{s: s, n: len(s.procs) + 1, port: port, base: "http://127.0.0.1:" + strconv.Itoa(port), env: env}
	p.logPath = filepath.Join(s.dir, fmt.Sprintf("process-%d.log", p.n))
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	p.restart()
	return p
}

// processes returns the processes started so far.
func (s *system) processes() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*proc(nil), s.procs...)
}

// restart starts the process (again) on its port and waits until /healthz answers.
func (p *proc) restart() {
	t := p.s.t
	t.Helper()
	bin := programBinary(t)
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "\n==== start %s ====\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin)
	cmd.Env = append(append(append(os.Environ(), p.s.env...), "PORT="+strconv.Itoa(p.port)), p.env...)
	// Through a pipe (a writer that is not an *os.File), so that Wait returns only once the output is
	// all in the log.
	out := struct{ io.Writer }{logf}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startChild(cmd); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("process %d exited during start-up (%v):\n%s", p.n, cmd.ProcessState, tailFile(p.logPath, 40))
		default:
		}
		if code, _ := httpStatus(p.base + "/healthz"); code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not serving after 90s:\n%s", p.n, tailFile(p.logPath, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// web reports whether the process serves pages (ROLES includes web, the default).
func (p *proc) web() bool {
	for _, e := range p.env {
		if v, ok := strings.CutPrefix(e, "ROLES="); ok {
			return strings.Contains(v, "web")
		}
	}
	return true
}

// spawn is served by one goroutine locked to its OS thread for the life of the test binary. The
// children's Pdeathsig (SIGKILL when the parent dies, so no process outlives a crashed test binary)
// fires when the *thread* that forked them exits, and the Go runtime may end a thread that ran
// exec; forking from a thread that never exits makes it mean "when the test binary exits".
var spawn = make(chan spawnRequest)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: this thread lives as long as the process
		for r := range spawn {
			r.done <- r.cmd.Start()
		}
	}()
}

func startChild(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	spawn <- spawnRequest{cmd, done}
	return <-done
}

// pid is the process id of the running process (0 when it is not running).
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !p.running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// running reports whether the process runs; p.mu is held.
func (p *proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// alive reports whether the process runs.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL, 10*time.Second)
}

// terminate asks for a graceful shutdown (SIGTERM) and kills the process if it takes too long.
func (p *proc) terminate() {
	if !p.signal(syscall.SIGTERM, 30*time.Second) {
		p.kill()
	}
}

func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// rssKB is the resident set size of the running process in KiB.
func (p *proc) rssKB() int {
	pid := p.pid()
	if pid == 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

// readyz returns the status and body of the process's /readyz.
func (p *proc) readyz() (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(p.base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func httpStatus(u string) (int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// eventually polls cond every 100ms until it holds or limit passes.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
