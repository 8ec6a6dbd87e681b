package messagestore

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
)

// isTimeout reports whether err is a timeout: a deadline passed (a context's, a connection's) or a
// socket said ETIMEDOUT or EAGAIN. It asks the error's Timeout method for its answer. Having the
// method means nothing: *fs.PathError, *os.SyscallError and syscall.Errno all have one, and
// answer false for a missing file.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// isFileSystemError reports whether err comes from an operation on a file or directory.
func isFileSystemError(err error) bool {
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	return errors.As(err, &pathErr) || errors.As(err, &linkErr)
}

// isNetworkFailure reports whether a network operation failed: a read, write or dial on a socket
// (broken, reset, unreachable) — the connection is gone and a new one may work — or a name lookup that
// the resolver itself calls temporary. A name that does not exist is not worth retrying.
func isNetworkFailure(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

func isConnectionLost(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "failed to connect") || strings.Contains(msg, "unexpected EOF")
}
