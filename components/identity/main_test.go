package identity

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

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
		if err = migrations.MessageStore.Up(context.Background(), pool, nil); err == nil {
			err = migrations.ViewData.Up(context.Background(), pool, nil)
		}
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

// newStore returns a store on a pool of its own, as another process would have.
func newStore(t testing.TB) *messagestore.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return messagestore.New(pool, messagestore.Options{Logger: quiet})
}

const baseURL = "https://videos.example"

func newComponent(t testing.TB) (*Component, *messagestore.Store) {
	t.Helper()
	s := newStore(t)
	return New(Deps{Store: s, Logger: quiet, BaseURL: baseURL + "/"}), s
}

// freshEmail is an address no other test uses.
func freshEmail() string { return "user-" + uuid.NewString()[:13] + "@example.com" }

// write appends one message as its real writer would and returns it as stored (with positions and
// time, so that FollowedFrom and handlers see what a subscription would hand them).
func write(t testing.TB, s *messagestore.Store, stream string, data any, md messagestore.Metadata) messagestore.Message {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewEvent(data, md)); err != nil {
		t.Fatal(err)
	}
	m, err := s.LastMessage(ctx, stream, "")
	if err != nil || m == nil {
		t.Fatalf("read back %s: %v", stream, err)
	}
	return *m
}

// stream returns every message of a stream.
func stream(t testing.TB, s *messagestore.Store, name string) []messagestore.Message {
	t.Helper()
	msgs, err := s.ReadStream(context.Background(), name, 0, 1000)
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

// runAtHead runs a copy of cfg under a fresh subscriber id that starts at the store's current head and
// hands its handlers only the messages mine accepts, so that it neither replays the history of a shared
// database nor touches other tests' messages. It returns a stop function and the subscription.
func runAtHead(t *testing.T, s *messagestore.Store, cfg messagestore.SubscriptionConfig, mine func(messagestore.Message) bool) *messagestore.Subscription {
	t.Helper()
	ctx := context.Background()
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
