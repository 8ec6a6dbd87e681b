package messagestore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// VersionConflictError says a write's expected version did not match the stream's version.
type VersionConflictError struct {
	StreamName string
	Expected   int64
	Actual     int64 // -1 when the stream is empty
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("version conflict on %s: expected version %d, stream version %d", e.StreamName, e.Expected, e.Actual)
}

// IsVersionConflict reports whether err is (or wraps) a version conflict.
func IsVersionConflict(err error) bool {
	var vc *VersionConflictError
	return errors.As(err, &vc)
}

// ContractError says a writer tried to append to a category its contract neither owns nor sends to.
type ContractError struct {
	Owner      string
	StreamName string
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("%s may not write to %s: category %q is outside its contract", e.Owner, e.StreamName, Category(e.StreamName))
}

// The store raises exactly this text (Message DB 1.3.0's text); clients parse it.
var wrongVersion = regexp.MustCompile(`^Wrong expected version: (-?\d+) \(Stream: (.*), Stream Version: (-?\d+)\)$`)

func translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "P0001" {
		if m := wrongVersion.FindStringSubmatch(pgErr.Message); m != nil {
			ev, _ := strconv.ParseInt(m[1], 10, 64)
			v, _ := strconv.ParseInt(m[3], 10, 64)
			return &VersionConflictError{StreamName: m[2], Expected: ev, Actual: v}
		}
	}
	return err
}

// transientError marks an error as worth retrying forever (the database went away, a deadlock, …).
type transientError struct{ err error }

func (e transientError) Error() string { return e.err.Error() }
func (e transientError) Unwrap() error { return e.err }

// Transient marks err as temporary: a subscription retries it with back-off for as long as it takes
// instead of parking, because the cause (a database restart, a full disk) goes away by itself.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

// IsTransient reports whether err is temporary: marked with Transient, a version conflict, a lost or
// refused connection, a timeout, or a Postgres error class that means "try again". A subscription
// retries a transient error for as long as it takes and parks on anything else after a few attempts,
// so this must not say yes to an error that retrying cannot cure: a missing file or a refused
// permission is not transient unless its owner marks it so (videopublishing does, for a media
// directory that is not mounted yet).
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if IsMarkedTransient(err) || IsVersionConflict(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "40001", pgErr.Code == "40P01", pgErr.Code == "55P03": // serialization, deadlock, lock not available
			return true
		case len(pgErr.Code) == 5 && (pgErr.Code[:2] == "08" || pgErr.Code[:2] == "53" || pgErr.Code[:2] == "57"):
			// connection exceptions, insufficient resources (disk full, out of memory, too many
			// connections), operator intervention (shutdown, cancel)
			return true
		}
		return false
	}
	if pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if isFileSystemError(err) {
		// About a file, not the database: whatever its errno, asking again finds the file missing or
		// forbidden as before — except for a deadline or EAGAIN on a pipe or device, which is a timeout.
		return isTimeout(err)
	}
	// Anything else that is not a server error (a broken socket mid-query, io.EOF, …) is a lost
	// connection: the pool will reconnect.
	return isTimeout(err) || isNetworkFailure(err) || isConnectionLost(err)
}

// IsUnavailable reports whether err says the database cannot serve now: it could not be reached or
// connected to, the connection broke, it is starting up or shutting down, or it is out of connections,
// memory or disk, or it stopped a statement at the statement_timeout or lock_timeout an operator set.
// An HTTP request that failed on such an error is worth repeating in a moment (503), unlike one that
// failed on a bug (500). Unlike IsTransient, it does not count what is only a conflict between writers
// (version conflicts, deadlocks, serialization failures), the caller's own deadline, or file-system
// errors.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) != 5 {
			return false
		}
		switch pgErr.Code[:2] {
		case "08", "53": // connection exceptions; insufficient resources
			return true
		case "57": // operator intervention, but not a query the caller cancelled
			return pgErr.Code != "57014" || isStatementTimeout(pgErr)
		case "55": // lock_not_available: the lock_timeout an operator set ran out
			return pgErr.Code == "55P03"
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isFileSystemError(err) {
		return false
	}
	return isNetworkFailure(err) || isConnectionLost(err)
}

// isStatementTimeout tells the server's statement_timeout from the other causes of query_canceled
// (57014), which share the code: above all a statement cancelled because its caller gave up ("due to
// user request", the cancel request pgx sends when a context ends). A statement the server stopped
// after the time an operator allows is the database being too slow or locked — like one out of reach.
// The text is the server's: with lc_messages in another language it does not match, and the error
// counts as a cancelled query, as before.
func isStatementTimeout(pgErr *pgconn.PgError) bool {
	return strings.Contains(pgErr.Message, "statement timeout")
}

// IsMarkedTransient reports whether err was marked with Transient (or wraps such an error) — the
// mark alone, none of IsTransient's judgement of what an error looks like. It is for code that
// classifies errors of its own kind and lets the code that raised them decide, such as send-email
// honouring its mail transport's verdict: an SMTP 550 reply that happens to read "failed to connect"
// is not a lost database connection.
func IsMarkedTransient(err error) bool {
	var te transientError
	return errors.As(err, &te)
}

// IsDuplicateMessage reports whether err says a message with the same id was already written (the
// store's unique index on id). Writers that choose deterministic ids use it to make a retried write a
// no-op.
func IsDuplicateMessage(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "messages_id"
}
