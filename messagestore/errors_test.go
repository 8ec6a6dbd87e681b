package messagestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"videotutorials/messagestore"
)

// TestIsTransientClassifiesErrors pins down which errors a subscription retries for as long as it
// takes (transient) and which it retries a few times and then parks (everything else). The
// file-system cases are the point: *fs.PathError has a Timeout method whether or not the error is a
// timeout, and its mere presence must not make a missing file or a refused permission transient.
func TestIsTransientClassifiesErrors(t *testing.T) {
	wrapped := func(err error) error { return fmt.Errorf("handle message: %w", err) }
	pgErr := func(code string) error { return wrapped(&pgconn.PgError{Code: code, Message: "x"}) }
	timeoutOp := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	deadlineCtx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"marked", wrapped(messagestore.Transient(errors.New("disk full"))), true},
		{"version conflict", wrapped(&messagestore.VersionConflictError{StreamName: "a-1", Expected: 0, Actual: -1}), true},

		// PostgreSQL: try-again SQLSTATEs, and errors that will not change by retrying.
		{"serialization failure 40001", pgErr("40001"), true},
		{"deadlock 40P01", pgErr("40P01"), true},
		{"lock not available 55P03", pgErr("55P03"), true},
		{"connection failure 08006", pgErr("08006"), true},
		{"too many connections 53300", pgErr("53300"), true},
		{"disk full 53100", pgErr("53100"), true},
		{"admin shutdown 57P01", pgErr("57P01"), true},
		{"cannot connect now 57P03", pgErr("57P03"), true},
		{"unique violation 23505", pgErr("23505"), false},
		{"undefined table 42P01", pgErr("42P01"), false},
		{"raised exception P0001", pgErr("P0001"), false},

		// The network and the database connection.
		{"connect error", wrapped(&pgconn.ConnectError{}), true},
		{"connection refused", wrapped(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"connection reset", wrapped(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"network unreachable", wrapped(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}), true},
		{"network timeout", wrapped(timeoutOp), true},
		{"unexpected EOF", wrapped(io.ErrUnexpectedEOF), true},
		{"closed connection", wrapped(net.ErrClosed), true},
		{"context deadline of a call", wrapped(deadlineCtx.Err()), true},
		{"context canceled", wrapped(context.Canceled), false},
		{"DNS lookup timed out", wrapped(&net.DNSError{Err: "i/o timeout", Name: "db", IsTimeout: true}), true},
		{"DNS name not found", wrapped(&net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}), false},

		// The file system: a file that is missing or may not be touched stays so when asked again.
		{"missing file", wrapped(&fs.PathError{Op: "open", Path: "/media/x.mp4", Err: syscall.ENOENT}), false},
		{"permission denied", wrapped(&os.PathError{Op: "open", Path: "/media/x.mp4", Err: syscall.EACCES}), false},
		{"not a directory", wrapped(&fs.PathError{Op: "mkdir", Path: "/media/x/y", Err: syscall.ENOTDIR}), false},
		{"broken pipe writing a file", wrapped(&fs.PathError{Op: "write", Path: "|1", Err: syscall.EPIPE}), false},
		{"rename across devices", wrapped(&os.LinkError{Op: "rename", Old: "/a", New: "/b", Err: syscall.EXDEV}), false},
		{"file deadline", wrapped(&fs.PathError{Op: "read", Path: "/dev/pipe", Err: os.ErrDeadlineExceeded}), true},
		{"file would block", wrapped(&fs.PathError{Op: "read", Path: "/dev/pipe", Err: syscall.EAGAIN}), true},
		{"marked file error", messagestore.Transient(&fs.PathError{Op: "write", Path: "/media/x", Err: syscall.ENOSPC}), true},
	} {
		if got := messagestore.IsTransient(tc.err); got != tc.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestIsMarkedTransient: only the mark counts, not what the error looks like.
func TestIsMarkedTransient(t *testing.T) {
	if !messagestore.IsMarkedTransient(fmt.Errorf("deliver: %w", messagestore.Transient(errors.New("451 try later")))) {
		t.Error("a marked error is not reported as marked")
	}
	for _, err := range []error{nil, io.ErrUnexpectedEOF, &pgconn.PgError{Code: "40001"},
		errors.New("550 failed to connect to your domain"), &messagestore.VersionConflictError{}} {
		if messagestore.IsMarkedTransient(err) {
			t.Errorf("IsMarkedTransient(%v) = true for an unmarked error", err)
		}
	}
}

// TestIsUnavailableClassifiesErrors: the database out of reach for now (503 for a web request), as
// opposed to a bug, a conflict between writers, the caller's own deadline or a file.
func TestIsUnavailableClassifiesErrors(t *testing.T) {
	wrapped := func(err error) error { return fmt.Errorf("load page: %w", err) }
	pgErr := func(code string) error { return wrapped(&pgconn.PgError{Code: code, Message: "x"}) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("boom"), false},
		{"connect error", wrapped(&pgconn.ConnectError{}), true},
		{"connection refused", wrapped(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"connection reset", wrapped(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"unexpected EOF", wrapped(io.ErrUnexpectedEOF), true},
		{"connection failure 08006", pgErr("08006"), true},
		{"too many connections 53300", pgErr("53300"), true},
		{"admin shutdown 57P01", pgErr("57P01"), true},
		{"cannot connect now 57P03", pgErr("57P03"), true},
		{"query cancelled 57014", pgErr("57014"), false},
		{"serialization failure 40001", pgErr("40001"), false},
		{"deadlock 40P01", pgErr("40P01"), false},
		{"unique violation 23505", pgErr("23505"), false},
		{"version conflict", wrapped(&messagestore.VersionConflictError{StreamName: "a-1", Expected: 0, Actual: -1}), false},
		{"context canceled", wrapped(context.Canceled), false},
		{"context deadline", wrapped(context.DeadlineExceeded), false},
		{"missing file", wrapped(&fs.PathError{Op: "open", Path: "/media/x.mp4", Err: syscall.ENOENT}), false},
	} {
		if got := messagestore.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// The server's own time limits — a statement_timeout or lock_timeout an operator set on the database
// or role — fail a statement with 57014 or 55P03 while the database is locked or too slow: the same
// condition as a database out of reach, worth a retry in a moment (503), not a bug (500). Found with
// ALTER DATABASE … SET statement_timeout = '2s' and a view table locked by another session: log-in
// and registration answered 500. A statement cancelled because its caller gave up (57014 too, "due to
// user request") stays the caller's own business.
func TestIsUnavailableForTheServersOwnTimeouts(t *testing.T) {
	ctx := context.Background()
	pool := newStore(t).Pool()

	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET statement_timeout = '20ms'"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SELECT pg_sleep(5)")
	if !messagestore.IsUnavailable(err) {
		t.Errorf("statement timeout: IsUnavailable(%v) = false", err)
	}
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0; SET lock_timeout = '20ms'"); err != nil {
		t.Fatal(err)
	}

	// Another session holds a lock the statement waits for.
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx) //nolint:errcheck
	key := time.Now().UnixNano()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key)
	if !messagestore.IsUnavailable(err) {
		t.Errorf("lock timeout: IsUnavailable(%v) = false", err)
	}
	if _, err := conn.Exec(ctx, "SET lock_timeout = 0"); err != nil {
		t.Fatal(err)
	}

	// The caller's own deadline is not the database's unavailability.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = conn.Exec(cctx, "SELECT pg_sleep(5)")
	if err == nil || messagestore.IsUnavailable(err) {
		t.Errorf("cancelled by its caller: IsUnavailable(%v) = true", err)
	}
}
