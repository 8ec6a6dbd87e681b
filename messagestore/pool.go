package messagestore

import (
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CancelStatementsOnServer makes the pool answer a cancelled context (a caller that gave up, a request
// deadline) by asking PostgreSQL to cancel the running statement, and by waiting briefly for it to say
// so, instead of pgx's default, which closes the connection at once. A closed connection does not stop
// the statement: the server finds out only when it next writes to the socket, so a write waiting for a
// category lock still commits once it gets the lock, after its caller was told it failed (and may have
// written it again), and the pool loses a connection on every timeout. Cancelled on the server, the
// statement ends with 57014 and its transaction rolls back; the connection stays usable.
//
// The combiner relies on it: a combined batch whose callers have all given up is cancelled and so not
// written (combine.go). Every pool the program opens on the store or the view data, and the tests',
// are configured with it.
func CancelStatementsOnServer(pc *pgxpool.Config) {
	pc.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{
			Conn: c,
			// The cancel request goes at once. If the server does not answer it within a second
			// (it is not answering anything), the connection is given up as before.
			CancelRequestDelay: 0,
			DeadlineDelay:      time.Second,
		}
	}
}
