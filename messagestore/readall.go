package messagestore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

const readAllSQL = `SELECT id, stream_name, type, position, global_position, data, metadata, time, transaction_id::text
FROM message_store.get_all_messages($1::text::xid8, $2, $3)`

// ReadAll returns up to batchSize messages of the whole store after the position (afterTxID,
// afterGlobalPosition), in (transaction id, global position) order, from ended transactions only.
// Unlike reading by global position alone, resuming from the last message's pair never skips a
// message that a slower transaction in another category commits later. Start from (0, 0). Like
// ReadCategory, it keeps to ReadBudget: large messages make a shorter batch.
func (s *Store) ReadAll(ctx context.Context, afterTxID uint64, afterGlobalPosition int64, batchSize int) ([]Message, error) {
	if batchSize == 0 {
		batchSize = DefaultBatchSize
	}
	rows, err := s.pool.Query(ctx, readAllSQL, strconv.FormatUint(afterTxID, 10), afterGlobalPosition, int64(batchSize))
	if err != nil {
		return nil, fmt.Errorf("read all after (%d, %d): %w", afterTxID, afterGlobalPosition, err)
	}
	defer rows.Close()
	var out []Message
	kept := 0
	for rows.Next() {
		if kept >= s.readBudget {
			break // rows.Close reads the rest off the connection without keeping it
		}
		var m Message
		var data, md *string
		var tx string
		if err := rows.Scan(&m.ID, &m.StreamName, &m.Type, &m.Position, &m.GlobalPosition, &data, &md, &m.Time, &tx); err != nil {
			return nil, err
		}
		if data != nil {
			m.Data = json.RawMessage(*data)
			kept += len(*data)
		}
		if md != nil && *md != "null" {
			kept += len(*md)
			m.RawMetadata = json.RawMessage(*md)
			_ = json.Unmarshal([]byte(*md), &m.Metadata)
		}
		m.Time = m.Time.UTC()
		if m.TransactionID, err = strconv.ParseUint(tx, 10, 64); err != nil {
			return nil, fmt.Errorf("read all: transaction id %q: %w", tx, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read all after (%d, %d): %w", afterTxID, afterGlobalPosition, err)
	}
	return out, nil
}
