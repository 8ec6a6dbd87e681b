// Package clientscan reads message rows the way a Message DB client does, for the benchmarks that
// compare reads (migrations, bench/messagedb): every column of the message row type scanned into
// strings, []byte payloads and a time, so that a benchmark pays the client's decoding too.
package clientscan

import (
	"fmt"
	"time"
)

// Rows is what Count needs of a result (pgx.Rows has it; the package stays free of the driver, as
// the boundary rules want of everything outside the store, the views and main).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Count scans every row of rows (id, stream_name, type, position, global_position, data, metadata,
// time) and returns how many there were.
func Count(rows Rows) (int, error) {
	defer rows.Close()
	var (
		n                   int
		id, stream, typ     string
		position, globalPos int64
		data, metadata      []byte
		at                  time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&id, &stream, &typ, &position, &globalPos, &data, &metadata, &at); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// Want is Count for a query's result, checking that it held want rows: the benchmarks' read op,
// rows and err being what the query returned.
func Want(rows Rows, err error, want int) error {
	if err != nil {
		return err
	}
	n, err := Count(rows)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("read %d messages, want %d", n, want)
	}
	return nil
}
