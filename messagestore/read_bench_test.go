package messagestore_test

// Read-path benchmarks of the Go client, side by side (see docs/BENCHMARKS.md, "Message store (SQL)"):
//
//	go test ./messagestore -run '^$' -bench 'Read(Category|Stream)$' -benchtime 400x
//
// Every contender reads the same batches of 1000, interleaved in rounds of 20 reads, and reports its
// msgs/s and its ratio to the first:
//   - store: Store.ReadCategory / ReadStream (what subscriptions and projections call);
//   - legacy_scan: the same query scanned the way the client did before (every payload through a
//     *string, then copied into a json.RawMessage), the "before";
//   - bare_pgx: the same query scanned into reused variables without building Messages: the floor of
//     any client on pgx;
//   - store_group: a consumer-group member's read (0 of 4), for the group target.

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/internal/clientscan"
	"videotutorials/messagestore"
)

const (
	benchCategorySize = 40000
	benchStreamSize   = 10000
	benchBatch        = 1000
	benchData         = `{"userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3", "videoId": "0b6c42b7-6f3a-4d55-9d36-6f0f8d0b1c2a", "seconds": 42}`
	benchMetadata     = `{"traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11", "userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3"}`
)

type readBenchFixture struct {
	pool     *pgxpool.Pool
	store    *messagestore.Store
	category string
	stream   string
	first    int64
}

var (
	readBenchOnce sync.Once
	readBenchV    readBenchFixture
	readBenchErr  error
)

// loadReadBench writes a category of benchCategorySize messages over 1000 streams, interleaved in the
// heap with as many messages of another category, and one stream of benchStreamSize messages.
func loadReadBench(b *testing.B) readBenchFixture {
	b.Helper()
	readBenchOnce.Do(func() {
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, dbURL)
		if err != nil {
			readBenchErr = err
			return
		}
		f := readBenchFixture{
			pool:     pool,
			store:    messagestore.New(pool, messagestore.Options{Logger: quiet}),
			category: "benchRead" + strings.ReplaceAll(uuid.NewString(), "-", ""),
			stream:   "benchReadStream-" + uuid.NewString(),
		}
		other := "benchOther" + strings.ReplaceAll(uuid.NewString(), "-", "")
		_, err = pool.Exec(ctx, `
			INSERT INTO message_store.messages (stream_name, position, type, data, metadata)
			SELECT CASE WHEN g % 2 = 0 THEN $1 ELSE $2 END || '-' || (g / 2 % 1000), g / 2000, 'Viewed', $3, $4
			FROM generate_series(0, $5 * 2 - 1) AS g`,
			f.category, other, benchData, benchMetadata, benchCategorySize)
		if err == nil {
			_, err = pool.Exec(ctx, `
				INSERT INTO message_store.messages (stream_name, position, type, data, metadata)
				SELECT $1, g, 'Viewed', $2, $3 FROM generate_series(0, $4 - 1) AS g`,
				f.stream, benchData, benchMetadata, benchStreamSize)
		}
		if err == nil {
			_, err = pool.Exec(ctx, `VACUUM ANALYZE message_store.messages`)
		}
		if err == nil {
			err = pool.QueryRow(ctx, `SELECT min(global_position) FROM message_store.messages
				WHERE message_store.category(stream_name) = $1`, f.category).Scan(&f.first)
		}
		readBenchV, readBenchErr = f, err
	})
	if readBenchErr != nil {
		b.Fatal(readBenchErr)
	}
	return readBenchV
}

// readContender reads the i-th batch and returns how many messages it got.
type readContender struct {
	name string
	read func(ctx context.Context, i int) (int, error)
}

// compareReads runs b.N reads of every contender, interleaved in rounds, and reports msgs/s and ratios.
func compareReads(b *testing.B, want int, cs ...readContender) {
	b.Helper()
	ctx := context.Background()
	const round = 20
	elapsed := make([]time.Duration, len(cs))
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for k, c := range cs {
			start := time.Now()
			for i := done; i < done+n; i++ {
				got, err := c.read(ctx, i)
				if err != nil {
					b.Fatalf("%s: %v", c.name, err)
				}
				if got != want {
					b.Fatalf("%s: read %d messages, want %d", c.name, got, want)
				}
			}
			elapsed[k] += time.Since(start)
		}
	}
	b.StopTimer()
	rate := func(k int) float64 { return float64(b.N*want) / elapsed[k].Seconds() }
	for k, c := range cs {
		b.ReportMetric(rate(k), c.name+"_msgs/s")
		if k > 0 {
			b.ReportMetric(100*rate(k)/rate(0), c.name+"/"+cs[0].name+"_%")
		}
	}
}

// legacyScan is how the client scanned a message row before 00004's companion change: payloads
// through a *string, then copied into a json.RawMessage.
func legacyScan(rows pgx.Rows, err error) ([]messagestore.Message, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []messagestore.Message
	for rows.Next() {
		var m messagestore.Message
		var data, md *string
		if err := rows.Scan(&m.ID, &m.StreamName, &m.Type, &m.Position, &m.GlobalPosition, &data, &md, &m.Time); err != nil {
			return nil, err
		}
		if data != nil {
			m.Data = json.RawMessage(*data)
		}
		if md != nil && *md != "null" {
			m.RawMetadata = json.RawMessage(*md)
			_ = json.Unmarshal([]byte(*md), &m.Metadata)
		}
		m.Time = m.Time.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// bareScan scans every row into reused variables, as a client that builds no messages would.
func bareScan(rows pgx.Rows, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return clientscan.Count(rows)
}

const benchCategorySQL = `SELECT id, stream_name, type, position, global_position, data, metadata, time
FROM message_store.get_category_messages($1, $2, $3, $4, $5, $6)`

func BenchmarkReadCategory(b *testing.B) {
	f := loadReadBench(b)
	// Category rows are every other global position: a batch spans 2000 positions.
	from := func(i int) int64 { return f.first + int64(i%(benchCategorySize/benchBatch))*2*benchBatch }
	// A member's batch spans about 4 x 2000 positions; stay in the first half so that it fills.
	groupFrom := func(i int) int64 { return f.first + int64(i%(benchCategorySize/benchBatch/8))*2*benchBatch }
	compareReads(b, benchBatch,
		readContender{"store", func(ctx context.Context, i int) (int, error) {
			ms, err := f.store.ReadCategory(ctx, f.category, from(i), benchBatch, messagestore.CategoryRead{})
			return len(ms), err
		}},
		readContender{"legacy_scan", func(ctx context.Context, i int) (int, error) {
			ms, err := legacyScan(f.pool.Query(ctx, benchCategorySQL, f.category, from(i), benchBatch, nil, nil, nil))
			return len(ms), err
		}},
		readContender{"bare_pgx", func(ctx context.Context, i int) (int, error) {
			return bareScan(f.pool.Query(ctx, benchCategorySQL, f.category, from(i), benchBatch, nil, nil, nil))
		}},
		readContender{"store_group", func(ctx context.Context, i int) (int, error) {
			ms, err := f.store.ReadCategory(ctx, f.category, groupFrom(i), benchBatch,
				messagestore.CategoryRead{ConsumerGroupMember: 0, ConsumerGroupSize: 4})
			return len(ms), err
		}},
	)
}

func BenchmarkReadStream(b *testing.B) {
	f := loadReadBench(b)
	from := func(i int) int64 { return int64(i%(benchStreamSize/benchBatch)) * benchBatch }
	const q = `SELECT id, stream_name, type, position, global_position, data, metadata, time
		FROM message_store.get_stream_messages($1, $2, $3)`
	compareReads(b, benchBatch,
		readContender{"store", func(ctx context.Context, i int) (int, error) {
			ms, err := f.store.ReadStream(ctx, f.stream, from(i), benchBatch)
			return len(ms), err
		}},
		readContender{"legacy_scan", func(ctx context.Context, i int) (int, error) {
			ms, err := legacyScan(f.pool.Query(ctx, q, f.stream, from(i), benchBatch))
			return len(ms), err
		}},
		readContender{"bare_pgx", func(ctx context.Context, i int) (int, error) {
			return bareScan(f.pool.Query(ctx, q, f.stream, from(i), benchBatch))
		}},
	)
}
