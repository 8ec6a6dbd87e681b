package devdb

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DatabaseName is the database the dev server creates for the program.
const DatabaseName = "videotutorials"

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found. It is the whole help a
// newcomer without PostgreSQL sees, so it spans lines.
//
//lint:ignore ST1005 printed as it is, as help, at the end of the program's output
var ErrNoBinaries = errors.New(`no PostgreSQL server binaries found (looked at $PG_BIN and /usr/lib/postgresql/*/bin).
Three ways out:
  1. install the server:            apt-get install -y postgresql   (then run again)
  2. use Docker for the database:   docker compose up -d db
                                    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/videotutorials?sslmode=disable go run .
  3. point at any PostgreSQL:       DATABASE_URL=postgres://user:pass@host:5432/db go run .`)

// Options configure a server.
type Options struct {
	// Dir holds the cluster (Dir/data), its log and its password file. Created when missing.
	Dir string
	// BinDir holds initdb and postgres. Empty: $PG_BIN, else the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// Logger receives progress messages. Nil: slog.Default().
	Logger *slog.Logger
	// Throwaway trades durability for speed (fsync off) and ties the server's life to this process:
	// if the process dies, the kernel stops the server. For tests.
	Throwaway bool
	// Port pins the TCP port. Zero picks a free one at each start; a fixed port lets a test stop and
	// start the server on the same data directory while clients keep the same URL.
	Port int
}

// Server is a running PostgreSQL server.
type Server struct {
	// URL connects to DatabaseName as the superuser.
	URL string
	// AdminURL connects to the "postgres" maintenance database.
	AdminURL string

	cmd    *exec.Cmd
	exited chan struct{}
	owned  bool
	log    *slog.Logger
}

// FindBinDir returns the directory holding the PostgreSQL server binaries.
func FindBinDir() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if hasServer(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("PG_BIN=%s has no initdb and postgres: %w", dir, ErrNoBinaries)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if hasServer(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil && hasServer(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// Start starts (or reuses) the server described by opts and waits until it accepts connections.
func Start(ctx context.Context, opts Options) (*Server, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("devdb: data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("devdb: create %s: %w", dir, err)
	}
	runAs, err := serverUser()
	if err != nil {
		return nil, err
	}
	if runAs != nil {
		// The directory holding the cluster (.devdata) is ours; the server user must be able to pass
		// through it, though not to list it (it also holds dev secrets, each file 0600).
		if err := allowTraverse(filepath.Dir(dir)); err != nil {
			return nil, err
		}
		if err := checkTraversable(dir, runAs); err != nil {
			return nil, err
		}
	}
	password, err := readOrCreatePassword(filepath.Join(dir, "password"))
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")

	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("creating private PostgreSQL cluster", "dir", dataDir)
		if err := initCluster(ctx, binDir, dir, dataDir, password, runAs); err != nil {
			return nil, err
		}
	}

	// A server left running by an earlier run (for example one that was killed): reuse it.
	if port, ok := runningServerPort(dataDir); ok {
		s := newServer(port, password, log)
		if err := s.waitReady(ctx, 5*time.Second); err == nil {
			log.Info("reusing PostgreSQL server left running by an earlier run", "port", port)
			return s, s.ensureDatabase(ctx)
		}
	}

	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"-D", dataDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=300",
		"-c", "shared_buffers=256MB",
	}
	if opts.Throwaway {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("devdb: open server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if opts.Throwaway {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	}
	if runAs != nil {
		cmd.SysProcAttr.Credential = runAs
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("devdb: start postgres: %w", err)
	}
	logFile.Close()
	s := newServer(port, password, log)
	s.cmd, s.owned = cmd, true
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		_ = s.Stop(context.Background())
		return nil, fmt.Errorf("devdb: %w; server log: %s", err, tail(filepath.Join(dir, "postgres.log")))
	}
	if err := s.ensureDatabase(ctx); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	log.Info("private PostgreSQL started", "port", port, "dir", dataDir)
	return s, nil
}

func newServer(port int, password string, log *slog.Logger) *Server {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), RawQuery: "sslmode=disable"}
	admin := u
	admin.Path = "/postgres"
	u.Path = "/" + DatabaseName
	return &Server{URL: u.String(), AdminURL: admin.String(), log: log}
}

// Stop shuts the server down (fast shutdown: open sessions are ended, data is flushed) and waits for it.
// A reused server that this process did not start is left running.
func (s *Server) Stop(ctx context.Context) error {
	if !s.owned || s.cmd == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
		s.log.Info("private PostgreSQL stopped")
		return nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	<-s.exited
	return errors.New("devdb: postgres did not stop in time and was stopped immediately")
}

// Exited is closed when a server started by this process exits. Nil for a reused server.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Pid is the server's process id, or 0 for a reused server.
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for time.Now().Before(deadline) {
		if s.exited != nil {
			select {
			case <-s.exited:
				return errors.New("postgres exited during start-up")
			default:
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.AdminURL)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("postgres not ready after %s: %v", limit, lastErr)
}

func (s *Server) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		return fmt.Errorf("devdb: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", DatabaseName).Scan(&exists); err != nil {
		return fmt.Errorf("devdb: look up database: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{DatabaseName}.Sanitize()); err != nil {
			// Two starters racing: the loser sees duplicate_database, which is fine.
			if !strings.Contains(err.Error(), "42P04") {
				return fmt.Errorf("devdb: create database: %w", err)
			}
		}
	}
	return nil
}

// serverUser returns the credential to run the server with, or nil when we are not root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("devdb: running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL as")
}

// allowTraverse adds search (x) permission for others to a directory this process owns.
func allowTraverse(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("devdb: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Uid) != os.Geteuid() || st.Mode().Perm()&0o001 != 0 {
		return nil
	}
	if err := os.Chmod(dir, st.Mode().Perm()|0o011); err != nil {
		return fmt.Errorf("devdb: let the server user through %s: %w", dir, err)
	}
	return nil
}

// checkTraversable makes sure the unprivileged server user can reach dir, and hands dir to it.
func checkTraversable(dir string, cred *syscall.Credential) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("devdb: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != cred.Uid {
				return fmt.Errorf("devdb: PostgreSQL runs as uid %d, which cannot enter %s (mode %v); "+
					"use a data directory it can reach (DEV_DATA_DIR) or set DATABASE_URL", cred.Uid, p, st.Mode().Perm())
			}
		}
		if p == "/" || p == filepath.Dir(p) {
			break
		}
	}
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if filepath.Base(path) == "password" {
			return nil
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
}

func readOrCreatePassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 18)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("devdb: write password file: %w", err)
	}
	return pw, nil
}

func initCluster(ctx context.Context, binDir, dir, dataDir, password string, runAs *syscall.Credential) error {
	pwFile := filepath.Join(dir, "initdb.pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwFile)
	if runAs != nil {
		if err := os.Chown(pwFile, int(runAs.Uid), int(runAs.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", dataDir, "-U", "postgres",
		"--pwfile", pwFile, "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if runAs != nil {
		cmd.SysProcAttr.Credential = runAs
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dataDir)
		return fmt.Errorf("devdb: initdb: %w: %s", err, out)
	}
	return nil
}

// runningServerPort reads postmaster.pid and reports the port of a live server using dataDir.
func runningServerPort(dataDir string) (int, bool) {
	f, err := os.Open(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 4 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, err2 := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err1 != nil || err2 != nil || pid <= 0 {
		return 0, false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0, false
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if !strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres") {
		return 0, false
	}
	return port, true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devdb: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
