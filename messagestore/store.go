package messagestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Expected-version arguments to Write.
const (
	// AnyVersion writes without a version check.
	AnyVersion int64 = -2
	// NoStream expects the stream to be empty.
	NoStream int64 = -1
)

// DefaultBatchSize is how many messages a read returns when the caller does not say.
const DefaultBatchSize = 1000

// Store is the message store client. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	signals  *signals
	observer Observer
	notifier *notifier
	combiner *combiner
	// retries receives the subscriber ids of retry requests (RequestRetry) from every process;
	// the Supervisor that runs them sets it.
	retries atomic.Pointer[func(subscriberID string)]
	// headCheck is Options.HeadCheckInterval.
	headCheck time.Duration
	// readBudget is ReadBudget; tests make it smaller.
	readBudget int
}

// Observer is told about the store's work, for metrics. Every method must be cheap and safe for
// concurrent use.
type Observer interface {
	MessagesWritten(category string, n int)
	MessageHandled(subscriberID string, d time.Duration)
	MessageFailed(subscriberID string)
}

type nopObserver struct{}

func (nopObserver) MessagesWritten(string, int)          {}
func (nopObserver) MessageHandled(string, time.Duration) {}
func (nopObserver) MessageFailed(string)                 {}

// Options configure a Store.
type Options struct {
	Logger   *slog.Logger
	Observer Observer
	// NoCombining writes every Write in a transaction of its own, even without an expected version
	// (see combine.go). For benchmarks that compare the two.
	NoCombining bool
	// HeadCheckInterval is how often Run looks at the store's last global position, to wake the
	// subscriptions when it moved: other processes announce their writes (NOTIFY), but other Message
	// DB clients do not, and without the check their messages wait for the subscriptions' idle polls
	// (up to SubscriptionConfig.ListeningMaxPollInterval). Default 3s: one indexed read every 3 s per
	// process, on the connection that sends its NOTIFYs. Negative: no check.
	HeadCheckInterval time.Duration
}

// New returns a store on pool. Call Run to receive wake-ups from writes made by other processes.
func New(pool *pgxpool.Pool, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.HeadCheckInterval == 0 {
		opts.HeadCheckInterval = 3 * time.Second
	}
	s := &Store{pool: pool, log: opts.Logger, signals: newSignals(), observer: opts.Observer, headCheck: opts.HeadCheckInterval,
		readBudget: ReadBudget}
	s.notifier = newNotifier(s)
	if !opts.NoCombining {
		s.combiner = newCombiner(s)
	}
	return s
}

// Pool is the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const writeSQL = `SELECT message_store.write_message($1, $2, $3, $4::jsonb, $5::jsonb, $6)`

// Write appends msgs to one stream in one transaction and returns the position of the last one.
// expectedVersion is checked against the stream before the first message (AnyVersion: no check;
// NoStream: the stream must be empty). A mismatch returns *VersionConflictError and writes nothing.
func (s *Store) Write(ctx context.Context, streamName string, expectedVersion int64, msgs ...NewMessage) (int64, error) {
	if len(msgs) == 0 {
		return 0, errors.New("messagestore: write of no messages")
	}
	if streamName == "" {
		return 0, errors.New("messagestore: write to an empty stream name")
	}
	encoded := make([]encodedMessage, len(msgs))
	for i, m := range msgs {
		id, data, md, err := m.encode()
		if err != nil {
			return 0, err
		}
		encoded[i] = encodedMessage{id: id, typ: m.Type, data: data, metadata: md}
	}
	var last int64
	var err error
	if expectedVersion == AnyVersion && s.combiner != nil {
		last, err = s.combiner.write(ctx, streamName, encoded)
	} else {
		last, err = s.writeOne(ctx, streamName, expectedVersion, encoded)
	}
	if err != nil {
		return 0, fmt.Errorf("write %d message(s) to %s: %w", len(msgs), streamName, err)
	}
	category := Category(streamName)
	s.signals.written.Add(uint64(len(msgs)))
	s.observer.MessagesWritten(category, len(msgs))
	s.Signal(category)
	return last, nil
}

// writeOne writes msgs in one transaction of their own: the first with the expected version. When
// the answer is lost, the messages' ids say whether the write committed (outcome.go).
func (s *Store) writeOne(ctx context.Context, streamName string, expectedVersion int64, msgs []encodedMessage) (int64, error) {
	last, err := s.writeTransaction(ctx, streamName, expectedVersion, msgs)
	if outcomeUnknown(err) && ctx.Err() == nil {
		if found, at, lerr := s.written(ctx, []writeRef{{stream: streamName, msgs: msgs}}); lerr == nil && found[0] {
			return at[0], nil
		}
	}
	return last, err
}

func (s *Store) writeTransaction(ctx context.Context, streamName string, expectedVersion int64, msgs []encodedMessage) (int64, error) {
	var ev *int64
	if expectedVersion != AnyVersion {
		ev = &expectedVersion
	}
	if len(msgs) > 1 {
		// A batch to one stream is one multi-row INSERT (write_messages): a fraction of the cost of a
		// write_message call per message, with the same lock, version check and errors.
		ids, types := make([]string, len(msgs)), make([]string, len(msgs))
		data, mds := make([]string, len(msgs)), make([]string, len(msgs))
		for i, m := range msgs {
			ids[i], types[i], data[i], mds[i] = m.id, m.typ, string(m.data), string(m.metadata)
		}
		var last int64
		err := s.pool.QueryRow(ctx, `SELECT message_store.write_messages($1, $2, $3, $4::text[]::jsonb[], $5::text[]::jsonb[], $6)`,
			streamName, ids, types, data, mds, ev).Scan(&last)
		return last, translate(err)
	}
	batch := &pgx.Batch{}
	for _, m := range msgs {
		batch.Queue(writeSQL, m.id, streamName, m.typ, string(m.data), string(m.metadata), ev)
	}
	// One round trip: a batch runs as one implicit transaction, so the messages land together or not
	// at all, and the category lock taken by the first write_message is held until the end.
	var last int64
	br := s.pool.SendBatch(ctx, batch)
	var err error
	for range msgs {
		if err = br.QueryRow().Scan(&last); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return last, translate(err)
}

// Signal wakes this process's subscriptions to category (and to the store-wide reader), and tells
// other processes through NOTIFY.
func (s *Store) Signal(category string) {
	s.signals.fire(category)
	s.notifier.queue(category)
}

const readStreamSQL = `SELECT id, stream_name, type, position, global_position, data, metadata, time
FROM message_store.get_stream_messages($1, $2, $3)`

// ReadStream returns up to batchSize messages of a stream from position on (inclusive).
func (s *Store) ReadStream(ctx context.Context, streamName string, position int64, batchSize int) ([]Message, error) {
	if batchSize == 0 {
		batchSize = DefaultBatchSize
	}
	rows, err := s.pool.Query(ctx, readStreamSQL, streamName, position, int64(batchSize))
	if err != nil {
		return nil, fmt.Errorf("read stream %s from %d: %w", streamName, position, translate(err))
	}
	msgs, err := scanMessagesN(rows, batchSize)
	if err != nil {
		return nil, fmt.Errorf("read stream %s from %d: %w", streamName, position, translate(err))
	}
	return msgs, nil
}

// CategoryRead narrows a category read.
type CategoryRead struct {
	// Correlation keeps only messages whose metadata correlationStreamName is in this category.
	Correlation string
	// ConsumerGroupSize > 0 splits the category by cardinal id; this reader is ConsumerGroupMember.
	ConsumerGroupMember int64
	ConsumerGroupSize   int64
}

const readCategorySQL = `SELECT id, stream_name, type, position, global_position, data, metadata, time
FROM message_store.get_category_messages($1, $2, $3, $4, $5, $6)`

// ReadCategory returns up to batchSize messages of a category from globalPosition on (inclusive).
func (s *Store) ReadCategory(ctx context.Context, category string, globalPosition int64, batchSize int, opt CategoryRead) ([]Message, error) {
	if batchSize == 0 {
		batchSize = DefaultBatchSize
	}
	var corr *string
	if opt.Correlation != "" {
		corr = &opt.Correlation
	}
	var member, size *int64
	if opt.ConsumerGroupSize > 0 {
		member, size = &opt.ConsumerGroupMember, &opt.ConsumerGroupSize
	}
	rows, err := s.pool.Query(ctx, readCategorySQL, category, globalPosition, int64(batchSize), corr, member, size)
	if err != nil {
		return nil, fmt.Errorf("read category %s from %d: %w", category, globalPosition, translate(err))
	}
	msgs, err := scanMessagesBudget(rows, batchSize, s.readBudget)
	if err != nil {
		return nil, fmt.Errorf("read category %s from %d: %w", category, globalPosition, translate(err))
	}
	return msgs, nil
}

const lastMessageSQL = `SELECT id, stream_name, type, position, global_position, data, metadata, time
FROM message_store.get_last_stream_message($1, $2)`

// LastMessage returns the last message of a stream (of type typ, when typ is not empty), or nil.
func (s *Store) LastMessage(ctx context.Context, streamName, typ string) (*Message, error) {
	var t *string
	if typ != "" {
		t = &typ
	}
	rows, err := s.pool.Query(ctx, lastMessageSQL, streamName, t)
	if err != nil {
		return nil, fmt.Errorf("last message of %s: %w", streamName, translate(err))
	}
	msgs, err := scanMessagesN(rows, 1)
	if err != nil {
		return nil, fmt.Errorf("last message of %s: %w", streamName, translate(err))
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	return &msgs[0], nil
}

// StreamVersion returns the position of the last message of a stream, or -1 when it is empty.
func (s *Store) StreamVersion(ctx context.Context, streamName string) (int64, error) {
	var v *int64
	if err := s.pool.QueryRow(ctx, `SELECT message_store.stream_version($1)`, streamName).Scan(&v); err != nil {
		return 0, fmt.Errorf("stream version of %s: %w", streamName, translate(err))
	}
	if v == nil {
		return -1, nil
	}
	return *v, nil
}

// scanMessagesN scans message rows (id, stream_name, type, position, global_position, data, metadata,
// time), expecting about n of them. It is the client's hot read path (docs/BENCHMARKS.md): payloads are
// scanned straight into their json.RawMessage (one copy, no intermediate string), the result is sized
// once, and metadata goes through decodeMetadata's fast path.
func scanMessagesN(rows pgx.Rows, n int) ([]Message, error) {
	return scanMessagesBudget(rows, n, 0)
}

// ReadBudget bounds the bytes (data and metadata) a category read or a store-wide read (ReadAll)
// keeps: past it, the rest of the batch is read off the connection and dropped, and the read returns
// the messages before it (always at least one). Messages are small (a kilobyte or less) and a batch
// of them stays far below it, but another Message DB client may write large ones: a catch-up batch of
// 2,000 one-megabyte messages would hold 2 GB in each subscription that read it (1,500 one-megabyte
// viewings took the program to 1 GB resident), and a process under a memory limit would be killed,
// and again after each restart on the same read. Who reads on from the last message returned gets the
// rest; a read that returns fewer messages than asked for is not the end of the category. Stream
// reads (fetching an entity) keep no budget.
const ReadBudget = 8 << 20

// scanMessagesBudget is scanMessagesN that stops keeping rows once budget bytes of data and metadata
// are kept (0: no budget).
func scanMessagesBudget(rows pgx.Rows, n int, budget int) ([]Message, error) {
	defer rows.Close()
	out := make([]Message, 0, min(max(n, 0), DefaultBatchSize))
	kept := 0
	for rows.Next() {
		if budget > 0 && kept >= budget {
			break // rows.Close reads the rest of the result off the connection without keeping it
		}
		out = append(out, Message{})
		m := &out[len(out)-1]
		var data, md []byte
		if err := rows.Scan(&m.ID, &m.StreamName, &m.Type, &m.Position, &m.GlobalPosition, &data, &md, &m.Time); err != nil {
			return nil, err
		}
		kept += len(data) + len(md)
		if data != nil {
			m.Data = json.RawMessage(data)
		}
		if md != nil && string(md) != "null" {
			m.RawMetadata = json.RawMessage(md)
			// Foreign writers may put anything in metadata; a shape we do not know is not an error
			// worth stopping a reader for, so unknown or mistyped fields are left out.
			decodeMetadata(md, &m.Metadata)
		}
		m.Time = m.Time.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeMetadata sets md from the JSON text b exactly as `_ = json.Unmarshal(b, md)` would, but
// without reflection for the common shape: one object whose values are plain strings (no escapes),
// integers, or anything else under a key Metadata does not have. Whenever the text leaves that shape
// (an escape in a key or in a known string, a known key spelled with other letter case -- json matches
// those --, a mistyped known value, invalid UTF-8, anything unusual), it starts over with
// json.Unmarshal, so the result is always Unmarshal's. Metadata read from the store is jsonb's output:
// canonical, valid JSON, and almost always on the fast path.
func decodeMetadata(b []byte, md *Metadata) {
	*md = Metadata{}
	if decodeMetadataFast(b, md) {
		return
	}
	*md = Metadata{} // whatever the fast path set before it gave up
	_ = json.Unmarshal(b, md)
}

func decodeMetadataFast(b []byte, md *Metadata) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		var str *string
		var num **int64
		switch string(key) { // no allocation: the compiler compares the bytes
		case "traceId":
			str = &md.TraceID
		case "userId":
			str = &md.UserID
		case "originStreamName":
			str = &md.OriginStreamName
		case "correlationStreamName":
			str = &md.CorrelationStreamName
		case "causationMessageStreamName":
			str = &md.CausationMessageStreamName
		case "causationMessageId":
			str = &md.CausationMessageID
		case "causationMessagePosition":
			num = &md.CausationMessagePosition
		case "causationMessageGlobalPosition":
			num = &md.CausationMessageGlobalPosition
		default:
			if isMetadataKeyFold(string(key)) {
				return false // encoding/json would match it case-insensitively
			}
		}
		switch {
		case str != nil:
			v, j, ok := plainString(b, i)
			if !ok {
				return false
			}
			*str, i = string(v), j
		case num != nil:
			v, j, ok := plainInt(b, i)
			if !ok {
				return false
			}
			*num, i = &v, j
		default:
			j, ok := skipValue(b, i, 0)
			if !ok {
				return false
			}
			i = j
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

var metadataKeys = []string{"traceId", "userId", "originStreamName", "correlationStreamName",
	"causationMessageStreamName", "causationMessagePosition", "causationMessageGlobalPosition", "causationMessageId"}

func isMetadataKeyFold(key string) bool {
	for _, k := range metadataKeys {
		if len(k) == len(key) && strings.EqualFold(k, key) {
			return true
		}
	}
	// encoding/json folds some non-ASCII letters too (the Kelvin sign, the long s): leave any non-ASCII
	// key to it.
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] that has no escapes, no control characters and valid UTF-8,
// and returns its content (a sub-slice of b).
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:j]) {
				return nil, i, false
			}
			return b[start:j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, i, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, i, false
}

// plainInt reads a JSON integer (no fraction, no exponent) that fits an int64.
func plainInt(b []byte, i int) (int64, int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == digits || (b[digits] == '0' && j-digits > 1) {
		return 0, i, false
	}
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		return 0, i, false
	}
	v, err := strconv.ParseInt(string(b[i:j]), 10, 64)
	if err != nil {
		return 0, i, false
	}
	return v, j, true
}

// skipValue skips one JSON value at b[i] (a string, number, literal, or a nested object or array).
// It is lenient inside values it skips: its input is valid JSON from jsonb, and on anything it does not
// recognise it gives up (and decodeMetadata falls back to json.Unmarshal, which validates).
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > 100 {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return i, false
	case c == '{' || c == '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		j := skipSpace(b, i+1)
		if j < len(b) && b[j] == end {
			return j + 1, true
		}
		for {
			if c == '{' {
				k, ok := skipValue(b, j, depth+1)
				if !ok || k <= j || b[j] != '"' {
					return i, false
				}
				j = skipSpace(b, k)
				if j >= len(b) || b[j] != ':' {
					return i, false
				}
				j = skipSpace(b, j+1)
			}
			k, ok := skipValue(b, j, depth+1)
			if !ok {
				return i, false
			}
			j = skipSpace(b, k)
			if j >= len(b) {
				return i, false
			}
			if b[j] == end {
				return j + 1, true
			}
			if b[j] != ',' {
				return i, false
			}
			j = skipSpace(b, j+1)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, true
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit), true
			}
		}
		return i, false
	}
}

// CategoryHead returns the global position of the newest message of a category (0 when empty). For
// AllCategories it is the newest message of the store.
func (s *Store) CategoryHead(ctx context.Context, category string) (int64, error) {
	var head *int64
	var err error
	if category == AllCategories {
		err = s.pool.QueryRow(ctx, `SELECT max(global_position) FROM message_store.messages`).Scan(&head)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT max(global_position) FROM message_store.messages
			WHERE message_store.category(stream_name) = $1`, category).Scan(&head)
	}
	if err != nil {
		return 0, fmt.Errorf("head of %s: %w", category, err)
	}
	if head == nil {
		return 0, nil
	}
	return *head, nil
}
