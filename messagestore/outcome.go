package messagestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// Writes whose answer was lost.
//
// A write can commit at the server while its answer never reaches the program: the connection
// breaks in that instant (a database restart, a killed backend, a network cut), or a cancelled call
// stops waiting for it. Reported as a failure, such a write is a message in the store whose writer
// was told it is not there, and the retry that the failure invites (a user's second click, a
// command handled again) writes it a second time.
//
// Message ids are unique in the store, so the store can find out instead of guessing: a write all
// of whose message ids are in its stream committed. So when an answer is lost, the store looks the
// ids up before it reports anything, and the combiner writes the others again under the same ids —
// which the unique index makes safe: if the first attempt committed after the look-up (its
// transaction was still finishing at the server), the second attempt fails on a duplicate id, and
// a second look-up then finds the write.
//
// A caller who wrote a message under an id that was already in the same stream from an earlier
// write, and lost the answer, is told the write succeeded: the message it asked for is in the
// stream. With an answer, that caller gets the duplicate-id error as before.

// outcomeUnknown reports whether err leaves open whether the write committed: the statement may
// have reached the server and no answer came back. Not so for an error from the server (its
// transaction rolled back), one that pgconn calls safe to retry, a failure to connect, or a context
// that ended while the call waited for a connection (nothing was sent); pgconn reports a context
// that ended while the statement was at the server as a timeout.
func outcomeUnknown(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &pgErr), errors.As(err, &connectErr), pgconn.SafeToRetry(err):
		return false
	case (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && !pgconn.Timeout(err):
		return false
	}
	return true
}

// isDuplicateID reports whether err is the store's refusal of a message id it holds already.
func isDuplicateID(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "messages_id"
}

// writeRef names a write for written: its stream and its messages.
type writeRef struct {
	stream string
	msgs   []encodedMessage
}

const writtenSQL = `SELECT id::text, stream_name, position FROM message_store.messages WHERE id = ANY($1::uuid[])`

// written reports, for each write, whether every one of its messages is in its stream, and if so
// the position of its last message. A message id that is not a UUID was never written (the store
// refuses it), so its write is not found.
func (s *Store) written(ctx context.Context, ws []writeRef) (found []bool, last []int64, err error) {
	type at struct {
		stream   string
		position int64
	}
	// The ids in PostgreSQL's spelling, per write; "" for one that is not a UUID.
	canonical := make([][]string, len(ws))
	var ids []string
	for i, w := range ws {
		canonical[i] = make([]string, len(w.msgs))
		for j, m := range w.msgs {
			if id, err := uuid.Parse(m.id); err == nil {
				canonical[i][j] = id.String()
				ids = append(ids, id.String())
			}
		}
	}
	stored := make(map[string]at, len(ids))
	if len(ids) > 0 {
		rows, err := s.pool.Query(ctx, writtenSQL, ids)
		if err != nil {
			return nil, nil, fmt.Errorf("look up written message ids: %w", err)
		}
		var id string
		var a at
		for rows.Next() {
			if err := rows.Scan(&id, &a.stream, &a.position); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("look up written message ids: %w", err)
			}
			stored[id] = a
		}
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("look up written message ids: %w", err)
		}
	}
	found, last = make([]bool, len(ws)), make([]int64, len(ws))
	for i, w := range ws {
		found[i] = len(w.msgs) > 0
		for _, id := range canonical[i] {
			a, ok := stored[id]
			if id == "" || !ok || a.stream != w.stream {
				found[i] = false
				break
			}
			last[i] = max(last[i], a.position)
		}
	}
	return found, last, nil
}

// settleLost finishes the writes of ws that are in the store, after a failure that left their
// outcome unknown, and returns the others. A write whose caller gave up is left to the caller's own
// error (it was told its outcome is unknown); a failed look-up settles nothing.
func (s *Store) settleLost(ctx context.Context, ws []*pendingWrite) []*pendingWrite {
	refs := make([]writeRef, 0, len(ws))
	waiting := make([]*pendingWrite, 0, len(ws))
	for _, w := range ws {
		if w.ctx.Err() == nil {
			refs = append(refs, writeRef{stream: w.stream, msgs: w.msgs})
			waiting = append(waiting, w)
		}
	}
	if len(refs) == 0 {
		return ws
	}
	found, last, err := s.written(ctx, refs)
	if err != nil {
		s.log.Warn("a write's answer was lost and looking for its messages failed; its callers are told it failed", "err", err)
		return ws
	}
	settled := map[*pendingWrite]bool{}
	for i, w := range waiting {
		if found[i] {
			w.pos, w.err = last[i], nil
			settled[w] = true
			close(w.done)
		}
	}
	rest := ws[:0:0]
	for _, w := range ws {
		if !settled[w] {
			rest = append(rest, w)
		}
	}
	return rest
}
