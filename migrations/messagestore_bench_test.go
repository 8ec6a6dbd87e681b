package migrations_test

// SQL-level benchmarks of the message store functions, each next to the ceiling it is judged against,
// measured in the same run (the machine is small and noisy, so only side-by-side ratios mean much):
//
//	go test ./migrations -run '^$' -bench . -benchtime 3s
//
// Every benchmark reports msgs/s. Results and targets: docs/BENCHMARKS.md, "Message store (SQL)".

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	benchPoolOnce sync.Once
	benchPoolV    *pgxpool.Pool
)

// benchPool has room for the 8 concurrent writers plus a spare connection.
func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	benchPoolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(testURL)
		if err != nil {
			panic(err)
		}
		cfg.MaxConns = 12
		benchPoolV, err = pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			panic(err)
		}
	})
	return benchPoolV
}

// writeTarget says where the i-th message of writer w goes.
type writeTarget func(w, i int) string

func oneStream() writeTarget {
	s := "benchStream-" + uuid.NewString()
	return func(int, int) string { return s }
}

func streamsOfOneCategory() writeTarget {
	c := "benchCat" + strings.ReplaceAll(uuid.NewString(), "-", "")
	return func(w, i int) string { return fmt.Sprintf("%s-%d_%d", c, w, i) }
}

func manyCategories() writeTarget {
	c := "benchCats" + strings.ReplaceAll(uuid.NewString(), "-", "")
	return func(w, i int) string { return fmt.Sprintf("%s%d_%d-1", c, w, i) }
}

// runWriters splits b.N operations over `writers` goroutines, each on its own pooled connection, and
// reports msgs/s (msgsPerOp messages per operation).
func runWriters(b *testing.B, writers, msgsPerOp int, op func(ctx context.Context, c *pgxpool.Conn, w, i int) error) {
	b.Helper()
	ctx := context.Background()
	p := benchPool(b)
	conns := make([]*pgxpool.Conn, writers)
	for w := range conns {
		c, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Release()
		conns[w] = c
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(ctx, conns[w], w, i); err != nil {
					failed.Store(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*msgsPerOp)/elapsed.Seconds(), "msgs/s")
}

const benchData = `{"userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3", "videoId": "0b6c42b7-6f3a-4d55-9d36-6f0f8d0b1c2a", "seconds": 42}`
const benchMetadata = `{"traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11", "userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3"}`

const writeSQL = `SELECT message_store.write_message($1, $2, $3, $4, $5)`

// plainTable creates the ceiling: a table of exactly the messages table's shape (columns, defaults,
// generated column, indexes, constraints), written with a bare INSERT whose position the client supplies.
func plainTable(b *testing.B) string {
	b.Helper()
	name := "bench_plain_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := benchPool(b).Exec(context.Background(),
		`CREATE TABLE public.`+name+` (LIKE message_store.messages INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = benchPool(b).Exec(context.Background(), `DROP TABLE public.`+name) })
	return "public." + name
}

func BenchmarkWriteMessage(b *testing.B) {
	targets := []struct {
		name string
		make func() writeTarget
	}{
		{"oneStream", oneStream},
		{"streamsOfOneCategory", streamsOfOneCategory},
		{"manyCategories", manyCategories},
	}
	for _, writers := range []int{1, 8} {
		for _, tg := range targets {
			b.Run(fmt.Sprintf("writers=%d/%s/write_message", writers, tg.name), func(b *testing.B) {
				target := tg.make()
				runWriters(b, writers, 1, func(ctx context.Context, c *pgxpool.Conn, w, i int) error {
					_, err := c.Exec(ctx, writeSQL, uuid.NewString(), target(w, i), "Viewed", benchData, benchMetadata)
					return err
				})
			})
			b.Run(fmt.Sprintf("writers=%d/%s/plain_insert", writers, tg.name), func(b *testing.B) {
				target := tg.make()
				table := plainTable(b)
				insert := `INSERT INTO ` + table + ` (id, stream_name, position, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6)`
				var pos atomic.Int64
				runWriters(b, writers, 1, func(ctx context.Context, c *pgxpool.Conn, w, i int) error {
					// Unique positions for the one-stream case; harmless elsewhere.
					_, err := c.Exec(ctx, insert, uuid.NewString(), target(w, i), pos.Add(1), "Viewed", benchData, benchMetadata)
					return err
				})
			})
		}
	}
}

// BenchmarkWriteMessageBatch writes batches to one stream in one transaction each, the way a client
// appends several events atomically: one write_message call per message, all pipelined in one round
// trip (pgx.Batch, an implicit transaction).
func BenchmarkWriteMessageBatch(b *testing.B) {
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			runWriters(b, 1, size, func(ctx context.Context, c *pgxpool.Conn, w, i int) error {
				stream := "benchBatch-" + uuid.NewString()
				var batch pgx.Batch
				for j := 0; j < size; j++ {
					batch.Queue(writeSQL, uuid.NewString(), stream, "Viewed", benchData, benchMetadata)
				}
				// Sent in one go and run as one implicit transaction, like messagestore.Store.Write.
				return c.SendBatch(ctx, &batch).Close()
			})
		})
	}
}

// BenchmarkWriteMessagesBatch writes the same batches with write_messages: one statement per batch.
func BenchmarkWriteMessagesBatch(b *testing.B) {
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			runWriters(b, 1, size, func(ctx context.Context, c *pgxpool.Conn, w, i int) error {
				ids := make([]string, size)
				types := make([]string, size)
				data := make([]string, size)
				metadata := make([]string, size)
				for j := range ids {
					ids[j], types[j], data[j], metadata[j] = uuid.NewString(), "Viewed", benchData, benchMetadata
				}
				_, err := c.Exec(ctx, `SELECT message_store.write_messages($1, $2, $3, $4::jsonb[], $5::jsonb[])`,
					"benchBatch-"+uuid.NewString(), ids, types, data, metadata)
				return err
			})
		})
	}
}

// readFixture is one category of readCategorySize messages over 1000 streams, interleaved with as
// many messages of another category (so a category's rows are spread over the heap, as in real life),
// plus one stream of readStreamSize messages.
type readFixture struct {
	category string
	stream   string
	first    int64 // the category's first global position
}

const (
	readCategorySize = 40000
	readStreamSize   = 10000
	// One category message in correlationEvery is correlated to the category benchReply: a
	// component's replies among everything else.
	correlationEvery   = 40
	correlatedMetadata = `{"correlationStreamName": "benchReply-1", "traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11"}`
)

var (
	readFixtureOnce sync.Once
	readFixtureV    readFixture
	readFixtureErr  error
)

func loadReadFixture(b *testing.B) readFixture {
	b.Helper()
	readFixtureOnce.Do(func() {
		ctx := context.Background()
		f := readFixture{
			category: "benchRead" + strings.ReplaceAll(uuid.NewString(), "-", ""),
			stream:   "benchReadStream-" + uuid.NewString(),
		}
		other := "benchOther" + strings.ReplaceAll(uuid.NewString(), "-", "")
		_, err := benchPool(b).Exec(ctx, `
			INSERT INTO message_store.messages (stream_name, position, type, data, metadata)
			SELECT CASE WHEN g % 2 = 0 THEN $1 ELSE $2 END || '-' || (g / 2 % 1000), g / 2000, 'Viewed', $3,
			       CASE WHEN g % (2 * $6) = 0 THEN $7 ELSE $4 END::jsonb
			FROM generate_series(0, $5 * 2 - 1) AS g`,
			f.category, other, benchData, benchMetadata, readCategorySize, correlationEvery, correlatedMetadata)
		if err == nil {
			_, err = benchPool(b).Exec(ctx, `
				INSERT INTO message_store.messages (stream_name, position, type, data, metadata)
				SELECT $1, g, 'Viewed', $2, $3 FROM generate_series(0, $4 - 1) AS g`,
				f.stream, benchData, benchMetadata, readStreamSize)
		}
		if err == nil {
			_, err = benchPool(b).Exec(ctx, `VACUUM ANALYZE message_store.messages`)
		}
		if err == nil {
			err = benchPool(b).QueryRow(ctx, `SELECT min(global_position) FROM message_store.messages
				WHERE message_store.category(stream_name) = $1`, f.category).Scan(&f.first)
		}
		readFixtureV, readFixtureErr = f, err
	})
	if readFixtureErr != nil {
		b.Fatal(readFixtureErr)
	}
	return readFixtureV
}

// scanMessages reads every row the way a client does (strings, []byte payloads, time) and counts them.
func scanMessages(rows pgx.Rows) (int, error) {
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

func runReads(b *testing.B, want int, read func(ctx context.Context, c *pgxpool.Conn, i int) (pgx.Rows, error)) {
	b.Helper()
	runWriters(b, 1, want, func(ctx context.Context, c *pgxpool.Conn, _, i int) error {
		rows, err := read(ctx, c, i)
		if err != nil {
			return err
		}
		n, err := scanMessages(rows)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("read %d messages, want %d", n, want)
		}
		return nil
	})
}

func BenchmarkRead(b *testing.B) {
	const batch = 1000
	b.Run("stream/batch=1000", func(b *testing.B) {
		f := loadReadFixture(b)
		runReads(b, batch, func(ctx context.Context, c *pgxpool.Conn, i int) (pgx.Rows, error) {
			from := int64(i%(readStreamSize/batch)) * batch
			return c.Query(ctx, `SELECT * FROM message_store.get_stream_messages($1, $2, $3)`, f.stream, from, batch)
		})
	})
	b.Run("category/batch=1000", func(b *testing.B) {
		f := loadReadFixture(b)
		runReads(b, batch, func(ctx context.Context, c *pgxpool.Conn, i int) (pgx.Rows, error) {
			// Category rows are every other global position: a batch spans 2000 positions.
			from := f.first + int64(i%(readCategorySize/batch))*2*batch
			return c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, $2, $3)`, f.category, from, batch)
		})
	})
	b.Run("correlation=1in40/batch=1000", func(b *testing.B) {
		f := loadReadFixture(b)
		runReads(b, readCategorySize/correlationEvery, func(ctx context.Context, c *pgxpool.Conn, i int) (pgx.Rows, error) {
			return c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, $2, $3, 'benchReply')`, f.category, f.first, batch)
		})
	})
	b.Run("consumerGroup=0of4/batch=1000", func(b *testing.B) {
		f := loadReadFixture(b)
		runReads(b, batch, func(ctx context.Context, c *pgxpool.Conn, i int) (pgx.Rows, error) {
			// A member's batch spans about 4 x 2000 positions; stay in the first half so it fills.
			from := f.first + int64(i%(readCategorySize/batch/8))*2*batch
			return c.Query(ctx, `SELECT * FROM message_store.get_category_messages($1, $2, $3, NULL, 0, 4)`, f.category, from, batch)
		})
	})
}
