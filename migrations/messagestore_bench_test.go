package migrations_test

// SQL-level benchmarks of the message store functions:
//
//	go test ./migrations -run '^$' -bench . -benchtime 2000x
//
// The machine these run on is small (2 cores) and shared, so absolute numbers drift by a factor of two
// from one minute to the next. Every benchmark therefore measures a function next to what it is judged
// against, interleaved in small rounds within the same run (write_message next to a plain INSERT, a
// batch next to single writes, a consumer-group read next to a plain category read), and reports each
// side's msgs/s plus their ratio. Results and targets: docs/BENCHMARKS.md, "Message store (SQL)".

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

	"videotutorials/internal/clientscan"
)

var (
	benchPoolOnce sync.Once
	benchPoolV    *pgxpool.Pool
)

// benchPool has room for the 8 concurrent writers plus spare connections.
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

// op is one unit of work (one message written, or one batch read) of worker w.
type op func(ctx context.Context, c *pgxpool.Conn, w, i int) error

// contender is one side of a side-by-side comparison.
type contender struct {
	name      string
	msgsPerOp int // messages an op writes or reads
	op        op
}

// round is how many ops of one contender run before the next contender gets its turn.
const round = 50

// compare runs b.N ops of every contender on `workers` concurrent connections, interleaved in rounds,
// and reports each contender's msgs/s and the ratio of each to the first.
func compare(b *testing.B, workers int, contenders ...contender) {
	b.Helper()
	ctx := context.Background()
	conns := make([]*pgxpool.Conn, workers)
	for w := range conns {
		c, err := benchPool(b).Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Release()
		conns[w] = c
	}
	elapsed := make([]time.Duration, len(contenders))
	counters := make([]int, len(contenders))
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		for k, ct := range contenders {
			d, err := phase(ctx, conns, counters[k], n, ct.op)
			if err != nil {
				b.Fatalf("%s: %v", ct.name, err)
			}
			elapsed[k] += d
			counters[k] += n
		}
	}
	b.StopTimer()
	rate := func(k int) float64 {
		return float64(b.N*contenders[k].msgsPerOp) / elapsed[k].Seconds()
	}
	for k, ct := range contenders {
		b.ReportMetric(rate(k), ct.name+"_msgs/s")
		if k > 0 {
			b.ReportMetric(100*rate(k)/rate(0), ct.name+"/"+contenders[0].name+"_%")
		}
	}
}

// phase runs ops from..from+n-1 spread over the connections and returns the wall time.
func phase(ctx context.Context, conns []*pgxpool.Conn, from, n int, f op) (time.Duration, error) {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(ctx, conns[w], w, from+i); err != nil {
					failed.Store(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	d := time.Since(start)
	if err, ok := failed.Load().(error); ok {
		return d, err
	}
	return d, nil
}

const benchData = `{"userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3", "videoId": "0b6c42b7-6f3a-4d55-9d36-6f0f8d0b1c2a", "seconds": 42}`
const benchMetadata = `{"traceId": "4f1c3b0e-8d3e-4c84-9a8e-6b2f6b0b7c11", "userId": "5a3a2c63-bf2c-4d2a-b38e-1e0e3bb2b9f3"}`

const writeSQL = `SELECT message_store.write_message($1, $2, $3, $4, $5)`

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

func writeMessage(target writeTarget) op {
	return func(ctx context.Context, c *pgxpool.Conn, w, i int) error {
		_, err := c.Exec(ctx, writeSQL, uuid.NewString(), target(w, i), "Viewed", benchData, benchMetadata)
		return err
	}
}

func plainInsert(b *testing.B, target writeTarget) op {
	insert := `INSERT INTO ` + plainTable(b) + ` (id, stream_name, position, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6)`
	var pos atomic.Int64
	return func(ctx context.Context, c *pgxpool.Conn, w, i int) error {
		// Unique positions, so the one-stream case satisfies (stream_name, position); harmless elsewhere.
		_, err := c.Exec(ctx, insert, uuid.NewString(), target(w, i), pos.Add(1), "Viewed", benchData, benchMetadata)
		return err
	}
}

// BenchmarkWriteMessage: single-message writes (autocommit) next to the plain-INSERT ceiling.
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
			b.Run(fmt.Sprintf("writers=%d/%s", writers, tg.name), func(b *testing.B) {
				compare(b, writers,
					contender{"plain_insert", 1, plainInsert(b, tg.make())},
					contender{"write_message", 1, writeMessage(tg.make())},
				)
			})
		}
	}
}

// BenchmarkWriteBatch: batches to one stream, each atomic, next to single writes. Two ways to write a
// batch: write_message once per message, pipelined in one round trip as one implicit transaction
// (pgx.Batch), and write_messages, one statement per batch (as messagestore.Store.Write does for
// several messages); and the same rows as a plain multi-row INSERT, the ceiling.
func BenchmarkWriteBatch(b *testing.B) {
	for _, size := range []int{10, 100} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			pipelined := func(ctx context.Context, c *pgxpool.Conn, _, _ int) error {
				stream := "benchBatch-" + uuid.NewString()
				var batch pgx.Batch
				for j := 0; j < size; j++ {
					batch.Queue(writeSQL, uuid.NewString(), stream, "Viewed", benchData, benchMetadata)
				}
				return c.SendBatch(ctx, &batch).Close()
			}
			arrays := func(ctx context.Context, c *pgxpool.Conn, _, _ int) error {
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
			}
			// The ceiling of a batch: the same rows as one multi-row INSERT into a table of the messages
			// table's shape (all its indexes and its generated column), positions supplied by the client:
			// no lock, no version lookup, no function. write_messages / this is its per-row overhead.
			table := plainTable(b)
			positions := make([]int64, size)
			for j := range positions {
				positions[j] = int64(j)
			}
			plainRows := func(ctx context.Context, c *pgxpool.Conn, _, _ int) error {
				ids := make([]string, size)
				streams := make([]string, size)
				types := make([]string, size)
				data := make([]string, size)
				metadata := make([]string, size)
				stream := "benchBatch-" + uuid.NewString()
				for j := range ids {
					ids[j], streams[j], types[j], data[j], metadata[j] = uuid.NewString(), stream, "Viewed", benchData, benchMetadata
				}
				_, err := c.Exec(ctx, `INSERT INTO `+table+` (id, stream_name, position, type, data, metadata)
					SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[])`,
					ids, streams, positions, types, data, metadata)
				return err
			}
			compare(b, 1,
				contender{"single_write_message", 1, writeMessage(streamsOfOneCategory())},
				contender{"pipelined_write_message", size, pipelined},
				contender{"write_messages", size, arrays},
				contender{"plain_multirow_insert", size, plainRows},
			)
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

// reads returns an op that runs the query and scans every row the way a client does (strings, []byte
// payloads, time), checking that it got `want` messages.
func reads(want int, query func(i int) (string, []any)) op {
	return func(ctx context.Context, c *pgxpool.Conn, _, i int) error {
		sql, args := query(i)
		rows, err := c.Query(ctx, sql, args...)
		return clientscan.Want(rows, err, want)
	}
}

// BenchmarkRead: batches of 1000 from a stream, a category, a correlated category read, a consumer
// group member, side by side with the references a category read is judged against:
//   - category_plpgsql, stream_plpgsql: the same reads through the PL/pgSQL bodies of 00003 and 00001
//     (category_read_plpgsql and stream_read_plpgsql since 00004/00005), the "before" of the inlined
//     functions;
//   - category_select: the SELECT the inlined function becomes, sent as is (the ceiling);
//   - *_server_only: the read wrapped in SELECT count(r.*), which evaluates every column (jsonb to text
//     included) but ships one row: the server's share.
func BenchmarkRead(b *testing.B) {
	const batch = 1000
	f := loadReadFixture(b)
	// Category rows are every other global position: a batch spans 2000 positions.
	categoryFrom := func(i int) int64 { return f.first + int64(i%(readCategorySize/batch))*2*batch }
	// A member's batch spans about 4 x 2000 positions; stay in the first half so that it fills.
	groupFrom := func(i int) int64 { return f.first + int64(i%(readCategorySize/batch/8))*2*batch }
	serverOnly := func(fn string) op {
		return func(ctx context.Context, c *pgxpool.Conn, _, i int) error {
			var n int
			if err := c.QueryRow(ctx, `SELECT count(r.*) FROM message_store.`+fn+`($1, $2, $3) AS r`,
				f.category, categoryFrom(i), batch).Scan(&n); err != nil {
				return err
			}
			if n != batch {
				return fmt.Errorf("read %d messages, want %d", n, batch)
			}
			return nil
		}
	}
	compare(b, 1,
		contender{"category", batch, reads(batch, func(i int) (string, []any) {
			return `SELECT * FROM message_store.get_category_messages($1, $2, $3)`, []any{f.category, categoryFrom(i), batch}
		})},
		contender{"category_plpgsql", batch, reads(batch, func(i int) (string, []any) {
			return `SELECT * FROM message_store.category_read_plpgsql($1, $2, $3)`, []any{f.category, categoryFrom(i), batch}
		})},
		contender{"category_select", batch, reads(batch, func(i int) (string, []any) {
			return `SELECT m.id::varchar, m.stream_name::varchar, m.type::varchar, m.position,
			               m.global_position, m.data::varchar, m.metadata::varchar, m.time
			        FROM message_store.messages AS m
			        WHERE message_store.category(m.stream_name) >= $1
			          AND message_store.category(m.stream_name) <= $1
			          AND m.global_position >= $2
			        ORDER BY message_store.category(m.stream_name), m.global_position
			        LIMIT $3`, []any{f.category, categoryFrom(i), batch}
		})},
		contender{"consumer_group_0of4", batch, reads(batch, func(i int) (string, []any) {
			return `SELECT * FROM message_store.get_category_messages($1, $2, $3, NULL, 0, 4)`, []any{f.category, groupFrom(i), batch}
		})},
		contender{"correlated_1in40", readCategorySize / correlationEvery, reads(readCategorySize/correlationEvery, func(i int) (string, []any) {
			return `SELECT * FROM message_store.get_category_messages($1, $2, $3, 'benchReply')`, []any{f.category, f.first, batch}
		})},
		contender{"stream", batch, reads(batch, func(i int) (string, []any) {
			return `SELECT * FROM message_store.get_stream_messages($1, $2, $3)`, []any{f.stream, int64(i%(readStreamSize/batch)) * batch, batch}
		})},
		contender{"stream_plpgsql", batch, reads(batch, func(i int) (string, []any) {
			return `SELECT * FROM message_store.stream_read_plpgsql($1, $2, $3)`, []any{f.stream, int64(i%(readStreamSize/batch)) * batch, batch}
		})},
		contender{"category_server_only", batch, serverOnly("get_category_messages")},
		contender{"category_plpgsql_server_only", batch, serverOnly("category_read_plpgsql")},
	)
}
