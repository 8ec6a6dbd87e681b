package videopublishing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/components/videopublishing/videopublishingmsg"
	"videotutorials/devdb"
	"videotutorials/messagestore"
	"videotutorials/migrations"
)

var dbURL string

func TestMain(m *testing.M) {
	url, stop, err := devdb.ForTests()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test database:", err)
		os.Exit(1)
	}
	dbURL = url
	pool, err := pgxpool.New(context.Background(), url)
	if err == nil {
		err = migrations.MessageStore.Up(context.Background(), pool, nil)
		pool.Close()
	}
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var ctx = context.Background()

func newStore(t testing.TB) *messagestore.Store {
	t.Helper()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return messagestore.New(pool, messagestore.Options{Logger: quiet})
}

// fixture is a component on a media directory of its own.
type fixture struct {
	c        *Component
	s        *messagestore.Store
	mediaDir string
}

func newFixture(t testing.TB, tr Transcoder) *fixture {
	t.Helper()
	s := newStore(t)
	dir := t.TempDir()
	return &fixture{c: New(Deps{Store: s, Logger: quiet, MediaDir: dir, Transcoder: tr}), s: s, mediaDir: dir}
}

// upload stores content as the creators portal does and returns its source URI.
func (f *fixture) upload(t testing.TB, videoID, ext string, content []byte) string {
	t.Helper()
	uri := MediaURI(UploadsDir + "/" + videoID + ext)
	path, err := ResolveMediaURI(f.mediaDir, uri)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return uri
}

// command writes a command to a video's inbox, as the creators portal does, and returns it as stored.
func (f *fixture) command(t testing.TB, videoID, userID string, data any) messagestore.Message {
	t.Helper()
	stream := videopublishingmsg.CommandStreamName(videoID)
	md := messagestore.Metadata{TraceID: uuid.NewString(), UserID: userID}
	if _, err := f.s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewEvent(data, md)); err != nil {
		t.Fatal(err)
	}
	m, err := f.s.LastMessage(ctx, stream, "")
	if err != nil || m == nil {
		t.Fatalf("read back %s: %v", stream, err)
	}
	return *m
}

// events returns the video's stream.
func (f *fixture) events(t testing.TB, videoID string) []messagestore.Message {
	t.Helper()
	msgs, err := f.s.ReadStream(ctx, videopublishingmsg.StreamName(videoID), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func types(msgs []messagestore.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Type
	}
	return out
}

func decode[T any](t testing.TB, m messagestore.Message) T {
	t.Helper()
	var v T
	if err := m.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// runAtHead runs a copy of cfg under a fresh subscriber id that starts at the store's head and hands
// its handlers only the messages mine accepts, so that it neither replays a shared database's history
// nor touches other tests' messages.
func runAtHead(t *testing.T, s *messagestore.Store, cfg messagestore.SubscriptionConfig, mine func(messagestore.Message) bool) *messagestore.Subscription {
	t.Helper()
	cfg.SubscriberID = "test:" + cfg.SubscriberID + ":" + uuid.NewString()
	head, err := s.CategoryHead(ctx, messagestore.AllCategories)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, messagestore.PositionStreamName(cfg.SubscriberID), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "Read", Data: messagestore.Read{Position: head}}); err != nil {
		t.Fatal(err)
	}
	handlers := map[string]messagestore.Handler{}
	for typ, h := range cfg.Handlers {
		handlers[typ] = func(ctx context.Context, m messagestore.Message) error {
			if !mine(m) {
				return nil
			}
			return h(ctx, m)
		}
	}
	cfg.Handlers = handlers
	cfg.Logger = quiet
	cfg.MinPollInterval, cfg.MaxPollInterval, cfg.RetryBackoff = 10*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond
	sub, err := s.Subscribe(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); sub.Run(runCtx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return sub
}
