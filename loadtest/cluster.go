package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"videotutorials/devdb"
)

// Cluster is a private PostgreSQL and Video Tutorials processes sharing it, started by the driver.
type Cluster struct {
	DB        *devdb.Server
	DBURL     string
	Procs     []*Proc
	WebURLs   []string
	dir       string
	ownsDBDir bool
}

// Proc is one started program.
type Proc struct {
	Roles string
	URL   string // "" without the web role
	cmd   *exec.Cmd
	log   string
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// ClusterOptions say what to start.
type ClusterOptions struct {
	Bin string // the videotutorials executable (go build -o … .)
	// Roles lists one ROLES value per process, e.g. {"web", "components,aggregators"}.
	Roles []string
	// DatabaseURL, when set, is used instead of starting a private PostgreSQL.
	DatabaseURL string
	// Dir holds the private PostgreSQL, emails, media and the processes' logs. Empty: a temporary
	// directory, removed by Stop.
	Dir string
	// Env is added to every process's environment (e.g. COMBINE_WRITES=false).
	Env []string
	// Durable keeps fsync on in the private PostgreSQL (default: throw-away, fsync off).
	Durable bool
	Log     *slog.Logger
}

// StartCluster starts the database (unless given) and the processes one after the other, each once
// the previous one is ready (the first one migrates the database).
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	c := &Cluster{dir: o.Dir}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "vtload-")
		if err != nil {
			return nil, err
		}
		c.dir, c.ownsDBDir = d, true
	}
	c.DBURL = o.DatabaseURL
	if c.DBURL == "" {
		srv, err := devdb.Start(ctx, devdb.Options{Dir: filepath.Join(c.dir, "postgres"), Logger: o.Log, Throwaway: !o.Durable})
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("start PostgreSQL: %w", err)
		}
		c.DB, c.DBURL = srv, srv.URL
	}
	secret := strings.Repeat("loadtest-session-secret-", 2)
	for i, roles := range o.Roles {
		port := 0
		if strings.Contains(roles, "web") {
			var err error
			if port, err = freePort(); err != nil {
				c.Stop()
				return nil, err
			}
		}
		p := &Proc{Roles: roles, log: filepath.Join(c.dir, fmt.Sprintf("proc%d.log", i))}
		logf, err := os.Create(p.log)
		if err != nil {
			c.Stop()
			return nil, err
		}
		p.cmd = exec.Command(o.Bin)
		p.cmd.Env = append(os.Environ(),
			"DATABASE_URL="+c.DBURL,
			"ROLES="+roles,
			fmt.Sprintf("PORT=%d", port),
			"SESSION_SECRET="+secret,
			"DEV_DATA_DIR="+filepath.Join(c.dir, "data"),
			"EMAIL_DIRECTORY="+filepath.Join(c.dir, "email"),
			"MEDIA_DIRECTORY="+filepath.Join(c.dir, "media"),
			"LEASE_INTERVAL=1s",
		)
		p.cmd.Env = append(p.cmd.Env, o.Env...)
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := p.cmd.Start(); err != nil {
			logf.Close()
			c.Stop()
			return nil, fmt.Errorf("start %s: %w", o.Bin, err)
		}
		logf.Close()
		c.Procs = append(c.Procs, p)
		if port != 0 {
			p.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
			c.WebURLs = append(c.WebURLs, p.URL)
		}
		if err := p.waitReady(ctx, 60*time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// waitReady waits for the program's "is ready" log line (every role logs it) and, with the web
// role, for /healthz.
func (p *Proc) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.cmd.ProcessState != nil {
			break
		}
		if logHas(p.log, "Video Tutorials is ready") {
			if p.URL == "" {
				return nil
			}
			res, err := http.Get(p.URL + "/healthz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("process with ROLES=%s not ready; its log (%s) ends:\n%s", p.Roles, p.log, tail(p.log))
}

func logHas(path, s string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, _ := f.Stat()
	if st != nil && st.Size() > 4000 {
		_, _ = f.Seek(-4000, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Watched lists the processes to sample: each program, and the PostgreSQL server with its backends.
func (c *Cluster) Watched() []Watched {
	var out []Watched
	for i, p := range c.Procs {
		out = append(out, Watched{Name: fmt.Sprintf("program %d (ROLES=%s)", i+1, p.Roles), Pid: p.Pid()})
	}
	if c.DB != nil && c.DB.Pid() > 0 {
		out = append(out, Watched{Name: "PostgreSQL (all backends)", Pid: c.DB.Pid(), Tree: true})
	}
	return out
}

// Stop stops the processes (SIGTERM, then SIGKILL after 15 s) and the database.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.Procs) - 1; i >= 0; i-- {
		p := c.Procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
			errs = append(errs, fmt.Errorf("ROLES=%s did not stop in 15s", p.Roles))
		}
	}
	if c.DB != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errs = append(errs, c.DB.Stop(ctx))
		cancel()
	}
	if c.ownsDBDir {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}
