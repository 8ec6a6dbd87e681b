package devdb

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartReuseStop(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	var s1 *Server
	dir, err := os.MkdirTemp("", "devdb-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s1, err = Start(ctx, Options{Dir: dir, Throwaway: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Stop(ctx)

	conn, err := pgx.Connect(ctx, s1.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	if os.Geteuid() == 0 {
		status, err := os.ReadFile("/proc/" + strconv.Itoa(s1.Pid()) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "Uid:") && strings.Fields(line)[1] == "0" {
				t.Fatalf("postgres runs as root: %s", line)
			}
		}
	}

	// A second start on the same directory while the first server runs reuses it, and does not own it.
	s2, err := Start(ctx, Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if s2.URL != s1.URL || s2.Pid() != 0 {
		t.Fatalf("second start did not reuse the running server: %s vs %s", s2.URL, s1.URL)
	}
	if err := s2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s1.Exited():
	default:
		t.Fatal("server still running after Stop")
	}

	// A restart on the same directory keeps the data.
	s3, err := Start(ctx, Options{Dir: dir, Throwaway: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Stop(ctx)
	if s3.Pid() == 0 || s3.Pid() == s1.Pid() {
		t.Fatalf("expected a fresh server process, got pid %d", s3.Pid())
	}
	conn, err = pgx.Connect(ctx, s3.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
		t.Fatalf("data not kept across restarts: %v %v", v, err)
	}
}

func TestNoBinariesMessage(t *testing.T) {
	t.Setenv("PG_BIN", t.TempDir())
	_, err := FindBinDir()
	if err == nil {
		t.Fatal("expected an error for an empty PG_BIN")
	}
	for _, want := range []string{"apt-get install -y postgresql", "docker compose up -d db", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

// TestPrivateParentDirectory is the `go run .` case as root: DEV_DATA_DIR is created 0700 by root and
// the cluster lives below it, so the server user must be let through it.
func TestPrivateParentDirectory(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to another user")
	}
	ctx := context.Background()
	root, err := os.MkdirTemp("", "devdb-parent-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	devdata := root + "/.devdata"
	if err := os.Mkdir(devdata, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Start(ctx, Options{Dir: devdata + "/postgres", Throwaway: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	st, _ := os.Stat(devdata)
	if st.Mode().Perm()&0o004 != 0 {
		t.Fatalf("DEV_DATA_DIR became listable by others: %v", st.Mode().Perm())
	}
}

// TestFixedPort: a server stopped and started again with Options.Port keeps its URL, so clients
// reconnect to the same address (the reliability suite restarts PostgreSQL under a running program).
func TestFixedPort(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "devdb-port-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s1, err := Start(ctx, Options{Dir: dir, Throwaway: true, Logger: quietLogger(), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s1.URL, ":"+strconv.Itoa(port)+"/") {
		t.Fatalf("URL %s does not use port %d", s1.URL, port)
	}
	if err := s1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s2, err := Start(ctx, Options{Dir: dir, Throwaway: true, Logger: quietLogger(), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop(ctx)
	if s2.URL != s1.URL {
		t.Fatalf("restart changed the URL: %s, then %s", s1.URL, s2.URL)
	}
	conn, err := pgx.Connect(ctx, s2.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
}
