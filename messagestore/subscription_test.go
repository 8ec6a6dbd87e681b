package messagestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"videotutorials/messagestore"
)

// eventually polls cond until it holds or the deadline passes. It is a wait, not a timing assertion:
// the deadlines are generous and only a broken feature misses them.
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

func writeN(t *testing.T, s *messagestore.Store, category string, n int, md messagestore.Metadata) []int64 {
	t.Helper()
	var gps []int64
	for range n {
		stream := messagestore.StreamName(category, uuid.NewString())
		if _, err := s.Write(context.Background(), stream, messagestore.AnyVersion, messagestore.NewEvent(Deposited{"a", 1}, md)); err != nil {
			t.Fatal(err)
		}
		m, _ := s.LastMessage(context.Background(), stream, "")
		gps = append(gps, m.GlobalPosition)
	}
	return gps
}

type recorder struct {
	mu  sync.Mutex
	gps []int64
}

func (r *recorder) handle(_ context.Context, m messagestore.Message) error {
	r.mu.Lock()
	r.gps = append(r.gps, m.GlobalPosition)
	r.mu.Unlock()
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.gps)
}

// batchRecorder records the sizes of the batches a HandleBatch subscription is given.
type batchRecorder struct {
	mu    sync.Mutex
	sizes []int
}

func (r *batchRecorder) handle(_ context.Context, msgs []messagestore.Message) error {
	r.mu.Lock()
	r.sizes = append(r.sizes, len(msgs))
	r.mu.Unlock()
	return nil
}

// batches returns the sizes so far, and how many messages they add up to.
func (r *batchRecorder) batches() (sizes []int, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.sizes {
		total += n
	}
	return slices.Clone(r.sizes), total
}

// runBatches runs a subscription with cfg's settings, recording its batches, until the test ends; it
// returns once the subscription runs.
func runBatches(t *testing.T, s *messagestore.Store, cfg messagestore.SubscriptionConfig) *batchRecorder {
	t.Helper()
	r := &batchRecorder{}
	cfg.HandleBatch = r.handle
	sub, err := s.Subscribe(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run(t, sub))
	eventually(t, 10*time.Second, "the subscription running", func() bool { return sub.Status().State == messagestore.StateRunning })
	return r
}

// supervise runs subs under a supervisor of s (no leases) until the test ends.
func supervise(t *testing.T, s *messagestore.Store, subs ...*messagestore.Subscription) *messagestore.Supervisor {
	t.Helper()
	sup := messagestore.NewSupervisor(s, nil, subs...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return sup
}

func run(t *testing.T, sub *messagestore.Subscription) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sub.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestSubscriptionResumesFromSavedPositionAndSavesOnShutdown(t *testing.T) {
	s := newStore(t)
	cat := fresh("sub")
	id := "test:" + uuid.NewString()
	first := writeN(t, s, cat, 5, messagestore.Metadata{})

	rec := &recorder{}
	cfg := messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers:             map[string]messagestore.Handler{"Deposited": rec.handle},
		PositionUpdatePeriod: time.Hour, PositionUpdateInterval: 1000} // only the shutdown save can record it
	sub, err := s.Subscribe(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	eventually(t, 10*time.Second, "5 messages", func() bool { return rec.count() == 5 })
	stop()

	last, err := s.LastMessage(context.Background(), messagestore.PositionStreamName(id), "Read")
	if err != nil || last == nil {
		t.Fatalf("no position saved at shutdown: %v", err)
	}
	var r messagestore.Read
	if err := last.Decode(&r); err != nil || r.Position != first[4] {
		t.Fatalf("saved position %d, want %d (%v)", r.Position, first[4], err)
	}

	second := writeN(t, s, cat, 3, messagestore.Metadata{})
	rec2 := &recorder{}
	cfg.Handlers = map[string]messagestore.Handler{"Deposited": rec2.handle}
	sub2, _ := s.Subscribe(cfg, nil)
	stop = run(t, sub2)
	defer stop()
	eventually(t, 10*time.Second, "3 new messages", func() bool { return rec2.count() == 3 })
	time.Sleep(100 * time.Millisecond)
	rec2.mu.Lock()
	defer rec2.mu.Unlock()
	if len(rec2.gps) != 3 || rec2.gps[0] != second[0] {
		t.Fatalf("resumed run handled %v, want %v", rec2.gps, second)
	}
}

func TestSubscriptionAdvancesPastFilteredMessages(t *testing.T) {
	s := newStore(t)
	cat := fresh("sub")
	// 150 messages from another origin: the book's origin filter stalled on a batch of such messages.
	writeN(t, s, cat, 150, messagestore.Metadata{OriginStreamName: "somebodyElse-1"})
	mine := writeN(t, s, cat, 1, messagestore.Metadata{OriginStreamName: "identity-42"})
	rec := &recorder{}
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": rec.handle}, OriginCategory: "identity", BatchSize: 100}, nil)
	stop := run(t, sub)
	defer stop()
	eventually(t, 10*time.Second, "the matching message", func() bool { return rec.count() == 1 })
	eventually(t, 5*time.Second, "position at head", func() bool { return sub.Status().Position == mine[0] })
	if rec.gps[0] != mine[0] {
		t.Fatalf("handled %v", rec.gps)
	}
}

func TestPoisonMessageParksThenRetryResumes(t *testing.T) {
	s := newStore(t)
	cat := fresh("sub")
	gps := writeN(t, s, cat, 3, messagestore.Metadata{})
	var broken atomic.Bool
	broken.Store(true)
	rec := &recorder{}
	id := "test:" + uuid.NewString()
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": func(ctx context.Context, m messagestore.Message) error {
			if m.GlobalPosition == gps[1] && broken.Load() {
				return errors.New("cannot handle this one")
			}
			return rec.handle(ctx, m)
		}},
		MaxAttempts: 3, RetryBackoff: time.Millisecond}, nil)

	// Another subscription in the same process keeps going while the first is parked.
	other := &recorder{}
	otherSub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": other.handle}}, nil)
	sup := supervise(t, s, sub, otherSub)

	eventually(t, 10*time.Second, "parked", func() bool { return sub.Status().State == messagestore.StateParked })
	st := sub.Status()
	if st.FailingMessage == nil || st.FailingMessage.GlobalPosition != gps[1] || st.LastError == "" || st.Attempts != 3 {
		t.Fatalf("parked status %+v", st)
	}
	if len(sup.Parked()) != 1 {
		t.Fatalf("supervisor reports %d parked", len(sup.Parked()))
	}
	eventually(t, 10*time.Second, "other subscription unaffected", func() bool { return other.count() == 3 })
	if rec.count() != 1 {
		t.Fatalf("parked subscription went past its failing message: %v", rec.gps)
	}
	// Other processes learn of the park from the status stream (written just after the state changes).
	eventually(t, 10*time.Second, "the park announced", func() bool { return len(statusMessages(t, s, id)) > 0 })
	status := statusMessages(t, s, id)
	var parked messagestore.Parked
	if len(status) != 1 || status[0].Type != "Parked" || status[0].Decode(&parked) != nil ||
		parked.GlobalPosition != gps[1] || parked.Error != "cannot handle this one" || parked.Attempts != 3 || parked.Type != "Deposited" {
		t.Fatalf("status stream after the park: %+v (%+v)", status, parked)
	}

	broken.Store(false)
	sub.Retry()
	eventually(t, 10*time.Second, "resumed", func() bool { return rec.count() == 3 })
	if st := sub.Status(); st.State != messagestore.StateRunning || st.FailingMessage != nil {
		t.Fatalf("status after retry %+v", st)
	}
	if len(sup.Parked()) != 0 {
		t.Fatal("still reported parked")
	}
	if status := statusMessages(t, s, id); len(status) != 2 || status[1].Type != "Resumed" {
		t.Fatalf("status stream after the retry: %v, want Parked then Resumed", testdbTypes(status))
	}
}

// statusMessages reads a subscriber's status stream.
func statusMessages(t *testing.T, s *messagestore.Store, id string) []messagestore.Message {
	t.Helper()
	msgs, err := s.ReadStream(context.Background(), messagestore.StatusStreamName(id), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func testdbTypes(msgs []messagestore.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Type)
	}
	return out
}

// A subscription parked by a runner that then stopped, or left retrying by one (killed, or its lease
// lost), is announced as resumed by the runner that takes it over, once it gets past the message.
func TestTakeoverAnnouncesTheResumeOfAnotherRunnersParkOrRetrying(t *testing.T) {
	for typ, announced := range map[string]any{
		"Parked":   messagestore.Parked{GlobalPosition: 1, Error: "it failed on the other runner"},
		"Retrying": messagestore.Retrying{GlobalPosition: 1, Error: "the other runner's disk was full", Transient: true},
	} {
		t.Run(typ, func(t *testing.T) {
			ctx := context.Background()
			s := newStore(t)
			cat := fresh("sub")
			writeN(t, s, cat, 2, messagestore.Metadata{})
			id := "test:" + uuid.NewString()
			if _, err := s.Write(ctx, messagestore.StatusStreamName(id), messagestore.AnyVersion,
				messagestore.NewMessage{Type: typ, Data: announced}); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
				Handlers: map[string]messagestore.Handler{"Deposited": rec.handle}}, nil)
			supervise(t, s, sub)
			eventually(t, 10*time.Second, "handled", func() bool { return rec.count() == 2 })
			eventually(t, 10*time.Second, "Resumed announced", func() bool {
				st := statusMessages(t, s, id)
				return len(st) == 2 && st[1].Type == "Resumed"
			})
		})
	}
}

// A saved position that cannot be read — a Read another Message DB client wrote into the position
// stream with data of another shape — will not read any better by reading it again. The subscription
// must not loop on it out of sight, looking "running" on /readyz and the admin page while it handles
// nothing: it parks on that Read, visibly, until a valid position is saved and Retry is called.
func TestAnUnreadableSavedPositionParks(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cat := fresh("sub")
	gps := writeN(t, s, cat, 3, messagestore.Metadata{})
	id := "test:" + uuid.NewString()
	if _, err := s.Write(ctx, messagestore.PositionStreamName(id), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "Read", Data: json.RawMessage(`{"position": "the third"}`)}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": rec.handle}, RetryBackoff: time.Millisecond}, nil)
	sup := supervise(t, s, sub)

	eventually(t, 10*time.Second, "parked on the saved position", func() bool { return sub.Status().State == messagestore.StateParked })
	st := sub.Status()
	if st.FailingMessage == nil || st.FailingMessage.StreamName != messagestore.PositionStreamName(id) || st.LastError == "" {
		t.Fatalf("parked status %+v: want the unreadable Read as the failing message, and its error", st)
	}
	if len(sup.Parked()) != 1 || rec.count() != 0 {
		t.Fatalf("supervisor reports %d parked; %d handled", len(sup.Parked()), rec.count())
	}

	// An operator saves a position the subscription can read, and retries.
	if _, err := s.Write(ctx, messagestore.PositionStreamName(id), messagestore.AnyVersion,
		messagestore.NewMessage{Type: "Read", Data: messagestore.Read{Position: gps[1]}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the park announced", func() bool { return len(statusMessages(t, s, id)) > 0 })
	if status := statusMessages(t, s, id); len(status) != 1 || status[0].Type != "Parked" {
		t.Fatalf("status stream while parked on the position: %v", testdbTypes(status))
	}
	sub.Retry()
	eventually(t, 10*time.Second, "the message after the saved position", func() bool { return rec.count() == 1 })
	if st := sub.Status(); st.State != messagestore.StateRunning || st.FailingMessage != nil || len(sup.Parked()) != 0 {
		t.Fatalf("status after retry %+v", st)
	}
	if status := statusMessages(t, s, id); len(status) != 2 || status[1].Type != "Resumed" {
		t.Fatalf("status stream after the retry: %v, want Parked then Resumed", testdbTypes(status))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.gps[0] != gps[2] {
		t.Fatalf("resumed at %v, want %d", rec.gps, gps[2])
	}
}

// A parked subscription is retried from another process (a tool, a web process without it) through
// Store.RequestRetry: the process that runs it hears the request on its LISTEN connection.
func TestRetryRequestedByAnotherProcess(t *testing.T) {
	runner, other := newStore(t), newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go runner.Run(ctx)
	cat := fresh("sub")
	gps := writeN(t, runner, cat, 2, messagestore.Metadata{})
	var broken atomic.Bool
	broken.Store(true)
	rec := &recorder{}
	id := "test:" + uuid.NewString()
	sub, _ := runner.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": func(ctx context.Context, m messagestore.Message) error {
			if m.GlobalPosition == gps[1] && broken.Load() {
				return errors.New("cannot handle this one")
			}
			return rec.handle(ctx, m)
		}},
		MaxAttempts: 2, RetryBackoff: time.Millisecond}, nil)
	sup := messagestore.NewSupervisor(runner, nil, sub)
	done := make(chan error)
	go func() { done <- sup.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, 10*time.Second, "parked and listening", func() bool {
		return sub.Status().State == messagestore.StateParked && runner.Listening()
	})

	broken.Store(false)
	if err := other.RequestRetry(context.Background(), "test:someone-else"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a request for another subscriber retries nothing here
	if sub.Status().State != messagestore.StateParked || rec.count() != 1 {
		t.Fatalf("another subscriber's retry moved this one: %+v, %d handled", sub.Status().State, rec.count())
	}
	if err := other.RequestRetry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "resumed by the other process's request", func() bool { return rec.count() == 2 })
}

func TestTransientErrorsNeverPark(t *testing.T) {
	s := newStore(t)
	cat := fresh("sub")
	writeN(t, s, cat, 1, messagestore.Metadata{})
	var calls atomic.Int32
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": func(context.Context, messagestore.Message) error {
			if calls.Add(1) < 6 {
				return messagestore.Transient(errors.New("disk full"))
			}
			return nil
		}},
		MaxAttempts: 2, RetryBackoff: time.Millisecond}, nil)
	stop := run(t, sub)
	defer stop()
	eventually(t, 10*time.Second, "handled after transient failures", func() bool { return sub.Status().Handled == 1 })
	if calls.Load() != 6 {
		t.Fatalf("calls %d", calls.Load())
	}
}

func TestWritesWakeSubscriptionsAcrossProcesses(t *testing.T) {
	writer, reader := newStore(t), newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go writer.Run(ctx)
	go reader.Run(ctx)
	cat := fresh("sub")
	rec := &recorder{}
	// Polls are an hour apart: only a wake-up can deliver the messages in time.
	cfg := messagestore.SubscriptionConfig{Category: cat,
		Handlers:        map[string]messagestore.Handler{"Deposited": rec.handle},
		MinPollInterval: time.Hour, MaxPollInterval: time.Hour}
	cfg.SubscriberID = "test:" + uuid.NewString()
	local, _ := writer.Subscribe(cfg, nil)
	rec2 := &recorder{}
	cfg.SubscriberID = "test:" + uuid.NewString()
	cfg.Handlers = map[string]messagestore.Handler{"Deposited": rec2.handle}
	remote, _ := reader.Subscribe(cfg, nil)
	defer run(t, local)()
	defer run(t, remote)()
	time.Sleep(300 * time.Millisecond) // both are now waiting after an empty first read
	writeN(t, writer, cat, 1, messagestore.Metadata{})
	eventually(t, 5*time.Second, "in-process wake-up", func() bool { return rec.count() == 1 })
	eventually(t, 5*time.Second, "LISTEN/NOTIFY wake-up", func() bool { return rec2.count() == 1 })
}

// A writer that does not run Store.Run (a command line tool) announces its writes with Announce, and
// a listening process's subscription wakes at once instead of at its next poll.
func TestAnnounceWakesListeningProcesses(t *testing.T) {
	tool, reader := newStore(t), newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go reader.Run(ctx)
	cat := fresh("tool")
	rec := &recorder{}
	// Polls are an hour apart: only a wake-up can deliver the message in time.
	sub, _ := reader.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Handlers:        map[string]messagestore.Handler{"Deposited": rec.handle},
		MinPollInterval: time.Hour, MaxPollInterval: time.Hour, ListeningMaxPollInterval: time.Hour}, nil)
	defer run(t, sub)()
	eventually(t, 5*time.Second, "the reader to listen", reader.Listening)
	time.Sleep(300 * time.Millisecond) // the subscription is now waiting after an empty first read
	writeN(t, tool, cat, 1, messagestore.Metadata{})
	if err := tool.Announce(ctx, cat); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the announced message", func() bool { return rec.count() == 1 })
	if err := tool.Announce(ctx); err != nil {
		t.Fatalf("announcing nothing: %v", err)
	}
}

// TestOwnAnnouncementsAreIgnored: a process's NOTIFY reaches other processes, but its own LISTEN
// connection drops it (its readers were woken in process when it wrote; waking them again would cost
// each of them a read).
func TestOwnAnnouncementsAreIgnored(t *testing.T) {
	writer, other := newStore(t), newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go writer.Run(ctx)
	go other.Run(ctx)
	eventually(t, 5*time.Second, "both listening", func() bool { return writer.Listening() && other.Listening() })
	cat := fresh("own")
	atOther := other.WaitFor(cat)
	writeN(t, writer, cat, 1, messagestore.Metadata{})
	atWriter := writer.WaitFor(cat) // taken after the write: only an announcement can close it
	select {
	case <-atOther:
	case <-time.After(5 * time.Second):
		t.Fatal("the other process was not told about the write")
	}
	select {
	case <-atWriter:
		t.Fatal("the writer was woken by its own announcement")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestOneRunnerPerSubscriberIDAcrossProcesses(t *testing.T) {
	a, b := newStore(t), newStore(t)
	cat := fresh("sub")
	id := "test:" + uuid.NewString()
	leasesA := messagestore.NewLeases(a.Pool(), quiet, 100*time.Millisecond)
	leasesB := messagestore.NewLeases(b.Pool(), quiet, 100*time.Millisecond)
	recA, recB := &recorder{}, &recorder{}
	subA, _ := a.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": recA.handle}, MaxPollInterval: 100 * time.Millisecond}, leasesA)
	subB, _ := b.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		Handlers: map[string]messagestore.Handler{"Deposited": recB.handle}, MaxPollInterval: 100 * time.Millisecond}, leasesB)

	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error)
	go func() { doneA <- messagestore.NewSupervisor(a, leasesA, subA).Run(ctxA) }()
	eventually(t, 10*time.Second, "A running", func() bool { return subA.Status().State == messagestore.StateRunning })

	ctxB, cancelB := context.WithCancel(context.Background())
	doneB := make(chan error)
	go func() { doneB <- messagestore.NewSupervisor(b, leasesB, subB).Run(ctxB) }()
	defer func() { cancelB(); <-doneB }()
	eventually(t, 10*time.Second, "B in standby", func() bool { return subB.Status().State == messagestore.StateStandby })

	writeN(t, a, cat, 10, messagestore.Metadata{})
	eventually(t, 10*time.Second, "A handles everything", func() bool { return recA.count() == 10 })
	time.Sleep(300 * time.Millisecond)
	if recB.count() != 0 || subB.Status().State != messagestore.StateStandby {
		t.Fatalf("B ran while A held the lease: %d handled, %s", recB.count(), subB.Status().State)
	}

	cancelA()
	<-doneA
	eventually(t, 10*time.Second, "B takes over", func() bool { return subB.Status().State == messagestore.StateRunning })
	writeN(t, b, cat, 5, messagestore.Metadata{})
	eventually(t, 10*time.Second, "B handles new messages", func() bool { return recB.count() >= 5 })
	time.Sleep(200 * time.Millisecond)
	if recB.count() != 5 {
		t.Fatalf("B handled %d messages; it should resume from A's saved position and handle only the 5 new ones", recB.count())
	}
	if recA.count() != 10 {
		t.Fatalf("A handled %d after stopping", recA.count())
	}
}

// TestProcessesShareTheirSubscriptions: two processes that run the same six subscriptions end up with
// three each; every message is handled exactly once however the subscriptions move; when one process
// stops, the other takes everything back.
func TestProcessesShareTheirSubscriptions(t *testing.T) {
	const n = 6
	a, b := newStore(t), newStore(t)
	cats := make([]string, n)
	ids := make([]string, n)
	for i := range n {
		cats[i], ids[i] = fresh("share"), "test:"+uuid.NewString()
	}
	type process struct {
		subs []*messagestore.Subscription
		recs []*recorder
	}
	newProcess := func(s *messagestore.Store) (*process, *messagestore.Leases) {
		leases := messagestore.NewLeases(s.Pool(), quiet, 50*time.Millisecond)
		p := &process{}
		for i := range n {
			rec := &recorder{}
			sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: ids[i], Category: cats[i],
				Handlers:        map[string]messagestore.Handler{"Deposited": rec.handle},
				MaxPollInterval: 50 * time.Millisecond}, leases)
			if err != nil {
				t.Fatal(err)
			}
			p.subs, p.recs = append(p.subs, sub), append(p.recs, rec)
		}
		return p, leases
	}
	running := func(p *process) (count int) {
		for _, sub := range p.subs {
			if sub.Status().State == messagestore.StateRunning {
				count++
			}
		}
		return count
	}
	handled := func(i int, ps ...*process) (total int) {
		for _, p := range ps {
			total += p.recs[i].count()
		}
		return total
	}
	pa, la := newProcess(a)
	pb, lb := newProcess(b)
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	doneA := make(chan error, 1)
	go func() { doneA <- messagestore.NewSupervisor(a, la, pa.subs...).Run(ctxA) }()
	eventually(t, 10*time.Second, "A runs all six", func() bool { return running(pa) == n })
	for i := range n {
		writeN(t, a, cats[i], 3, messagestore.Metadata{})
	}
	eventually(t, 10*time.Second, "A handles the first messages", func() bool {
		for i := range n {
			if handled(i, pa) != 3 {
				return false
			}
		}
		return true
	})

	ctxB, cancelB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() { doneB <- messagestore.NewSupervisor(b, lb, pb.subs...).Run(ctxB) }()
	eventually(t, 15*time.Second, "three subscriptions each", func() bool { return running(pa) == n/2 && running(pb) == n/2 })
	for i := range n {
		if pa.subs[i].Status().State == messagestore.StateRunning && pb.subs[i].Status().State == messagestore.StateRunning {
			t.Fatalf("%s runs in both processes", ids[i])
		}
	}
	for i := range n {
		writeN(t, b, cats[i], 2, messagestore.Metadata{})
	}
	eventually(t, 10*time.Second, "every message handled", func() bool {
		for i := range n {
			if handled(i, pa, pb) < 5 {
				return false
			}
		}
		return true
	})

	cancelB()
	<-doneB
	eventually(t, 15*time.Second, "A takes everything back", func() bool { return running(pa) == n })
	for i := range n {
		writeN(t, a, cats[i], 1, messagestore.Metadata{})
	}
	eventually(t, 10*time.Second, "the last messages handled", func() bool {
		for i := range n {
			if handled(i, pa, pb) < 6 {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond)
	for i := range n {
		if got := handled(i, pa, pb); got != 6 {
			t.Errorf("%s: %d messages handled, want each of the 6 exactly once", ids[i], got)
		}
	}
	cancelA()
	<-doneA
}

func TestStoreWideSubscriptionSeesEveryCategoryOnce(t *testing.T) {
	s := newStore(t)
	catA, catB := fresh("allA"), fresh("allB")
	var mu sync.Mutex
	seen := map[string]int{}
	sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(),
		Category: messagestore.AllCategories, BatchSize: 7,
		HandleBatch: func(_ context.Context, msgs []messagestore.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				if c := messagestore.Category(m.StreamName); c == catA || c == catB {
					seen[m.ID]++
				}
			}
			return nil
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	defer stop()
	writeN(t, s, catA, 20, messagestore.Metadata{})
	writeN(t, s, catB, 20, messagestore.Metadata{})
	eventually(t, 15*time.Second, "40 messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 40
	})
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %s handled %d times", id, n)
		}
	}
}

// TestBatchHandlerGetsOnlyItsTypes: with BatchTypes, a batch handler gets exactly the messages of those
// types, in order, whether a read holds only wanted messages or a mix; the others still advance the
// position.
func TestBatchHandlerGetsOnlyItsTypes(t *testing.T) {
	s := newStore(t)
	cat := fresh("types")
	stream := messagestore.StreamName(cat, uuid.NewString())
	var want []string
	write := func(types ...string) {
		for _, typ := range types {
			m := messagestore.NewMessage{ID: uuid.NewString(), Type: typ}
			if _, err := s.Write(context.Background(), stream, messagestore.AnyVersion, m); err != nil {
				t.Fatal(err)
			}
			if typ == "Wanted" {
				want = append(want, m.ID)
			}
		}
	}
	write("Wanted", "Wanted", "Wanted", "Other", "Wanted", "Other", "Other", "Wanted")
	var mu sync.Mutex
	var got []string
	sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		BatchSize: 3, BatchTypes: []string{"Wanted"},
		HandleBatch: func(_ context.Context, msgs []messagestore.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				if m.Type != "Wanted" {
					t.Errorf("handler got a %s", m.Type)
				}
				got = append(got, m.ID)
			}
			return nil
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	defer stop()
	eventually(t, 10*time.Second, "every wanted message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	eventually(t, 10*time.Second, "the position past the last message", func() bool { return sub.Status().Position > 0 && sub.Status().Position == lastGlobal(t, s, stream) })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
}

func lastGlobal(t *testing.T, s *messagestore.Store, stream string) int64 {
	t.Helper()
	m, err := s.LastMessage(context.Background(), stream, "")
	if err != nil {
		t.Fatal(err)
	}
	return m.GlobalPosition
}

func TestStoreWideSubscriptionDoesNotFeedOnItsOwnPositionWrites(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") != "" {
		t.Skip("needs a database nobody else writes to while it watches for idle saves")
	}
	s := newStore(t)
	id := "test:" + uuid.NewString()
	sub, _ := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: messagestore.AllCategories,
		HandleBatch:          func(context.Context, []messagestore.Message) error { return nil },
		PositionUpdatePeriod: 20 * time.Millisecond, MinPollInterval: 10 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond}, nil)
	stop := run(t, sub)
	defer stop()
	writeN(t, s, fresh("own"), 1, messagestore.Metadata{})
	saves := func() int64 {
		v, err := s.StreamVersion(context.Background(), messagestore.PositionStreamName(id))
		if err != nil {
			t.Fatal(err)
		}
		return v + 1
	}
	eventually(t, 15*time.Second, "a first save", func() bool { return saves() >= 1 })
	time.Sleep(500 * time.Millisecond) // settle: the reader passes over its own save
	before := saves()
	time.Sleep(time.Second)
	if after := saves(); after != before {
		t.Fatalf("idle store-wide subscription kept saving its position: %d → %d saves", before, after)
	}
}

func TestCatchUpReadsLargerBatchesAndSavesLessOften(t *testing.T) {
	s := newStore(t)
	cat := fresh("catchup")
	deposit(t, s, messagestore.StreamName(cat, uuid.NewString()), 3000)
	id := "test:" + uuid.NewString()
	var mu sync.Mutex
	var sizes []int
	var gps []int64
	sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		HandleBatch: func(_ context.Context, msgs []messagestore.Message) error {
			mu.Lock()
			defer mu.Unlock()
			sizes = append(sizes, len(msgs))
			for _, m := range msgs {
				gps = append(gps, m.GlobalPosition)
			}
			return nil
		},
		BatchSize: 100, CatchUpBatchSize: 1000, PositionUpdateInterval: 100, PositionUpdatePeriod: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	defer stop()
	handled := func() int { mu.Lock(); defer mu.Unlock(); return len(gps) }
	eventually(t, 30*time.Second, "3000 messages", func() bool { return handled() == 3000 })
	eventually(t, 10*time.Second, "the position saved at the head", func() bool {
		return sub.Status().SavedPosition == gps[len(gps)-1]
	})
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(gps); i++ {
		if gps[i] <= gps[i-1] {
			t.Fatalf("out of order or twice at %d: %d after %d", i, gps[i], gps[i-1])
		}
	}
	if sizes[0] != 100 || slices.Max(sizes) != 1000 {
		t.Fatalf("batch sizes %v: want 100 first, then reads of 1000 while behind", sizes)
	}
	saves, err := s.StreamVersion(ctx, messagestore.PositionStreamName(id))
	if err != nil || saves+1 != 1 {
		t.Fatalf("%d position saves while catching up (want 1, at the head): %v", saves+1, err)
	}
}

func TestPositionReadersDoNotAnswerEachOthersSavesForever(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") != "" {
		t.Skip("needs a database nobody else writes to while it watches for idle saves")
	}
	s := newStore(t)
	noop := func(context.Context, []messagestore.Message) error { return nil }
	fast := func(id, cat string) *messagestore.Subscription {
		sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat, HandleBatch: noop,
			PositionUpdatePeriod: 20 * time.Millisecond, MinPollInterval: 10 * time.Millisecond,
			MaxPollInterval: 20 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	// Like admin-subscriber-positions and admin-streams: one reads the position category, one the
	// whole store; and an ordinary subscription whose saves they both see.
	cat := fresh("echo")
	ids := []string{"test:" + uuid.NewString(), "test:" + uuid.NewString(), "test:" + uuid.NewString()}
	for i, sub := range []*messagestore.Subscription{
		fast(ids[0], "subscriberPosition"), fast(ids[1], messagestore.AllCategories), fast(ids[2], cat)} {
		stop := run(t, sub)
		defer stop()
		_ = i
	}
	writeN(t, s, cat, 1, messagestore.Metadata{})
	saves := func() int64 {
		var n int64
		for _, id := range ids {
			v, err := s.StreamVersion(ctx, messagestore.PositionStreamName(id))
			if err != nil {
				t.Fatal(err)
			}
			n += v + 1
		}
		return n
	}
	eventually(t, 15*time.Second, "the ordinary subscription's save", func() bool {
		v, _ := s.StreamVersion(ctx, messagestore.PositionStreamName(ids[2]))
		return v >= 0
	})
	time.Sleep(500 * time.Millisecond) // settle
	before := saves()
	time.Sleep(time.Second)
	if after := saves(); after != before {
		t.Fatalf("position readers kept saving after one write: %d → %d saves in 1s", before, after)
	}
}

// A HandleBatch subscription saves its position after 1000 messages by default, not 100: its handler
// applies each read behind its own watermark, so what it reads again after a crash changes nothing,
// and every save is a message the admin aggregators handle.
func TestBatchSubscriptionSavesAfterAThousandMessagesByDefault(t *testing.T) {
	s := newStore(t)
	cat := fresh("batchsave")
	stream := messagestore.StreamName(cat, uuid.NewString())
	deposit(t, s, stream, 300)
	id := "test:" + uuid.NewString()
	var mu sync.Mutex
	var last int64
	handled := 0
	sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: id, Category: cat,
		HandleBatch: func(_ context.Context, msgs []messagestore.Message) error {
			mu.Lock()
			defer mu.Unlock()
			handled += len(msgs)
			last = msgs[len(msgs)-1].GlobalPosition
			return nil
		},
		BatchSize: 100, PositionUpdatePeriod: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	defer stop()
	count := func() int { mu.Lock(); defer mu.Unlock(); return handled }
	eventually(t, 30*time.Second, "the first 300 messages", func() bool { return count() == 300 })
	deposit(t, s, stream, 800) // 1100 in all: one save, after the last read
	eventually(t, 30*time.Second, "all 1100 messages", func() bool { return count() == 1100 })
	eventually(t, 10*time.Second, "the position saved at the head", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sub.Status().SavedPosition == last
	})
	saves, err := s.StreamVersion(ctx, messagestore.PositionStreamName(id))
	if err != nil || saves+1 != 1 {
		t.Fatalf("%d position saves for 1100 messages (want 1: the default interval is 1000): %v", saves+1, err)
	}
}

// A lingering subscription that is caught up waits before it reads, so that messages written one by
// one in the meantime arrive in one batch; without Linger the first write's wake-up reads at once.
func TestLingerGathersMessagesIntoOneBatch(t *testing.T) {
	s := newStore(t)
	cat := fresh("linger")
	rec := runBatches(t, s, messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
		Linger: 3 * time.Second})
	writeN(t, s, cat, 5, messagestore.Metadata{}) // five transactions, each waking the subscription
	eventually(t, 20*time.Second, "all five messages handled", func() bool { _, n := rec.batches(); return n == 5 })
	if sizes, _ := rec.batches(); len(sizes) != 1 {
		t.Fatalf("batches %v, want one batch of 5", sizes)
	}
}

// SteadyLinger waits only after a read that found messages: a message after a quiet spell is read at
// once (with an hour's linger it would not be handled within the test), and the messages written
// while the subscription waits after handling it arrive in one batch.
func TestSteadyLingerWaitsOnlyBetweenBatchesOfASteadyStream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linger time.Duration
		more   int // messages written once the first is handled
		want   []int
	}{
		{"a message after a quiet spell is read at once", time.Hour, 0, []int{1}},
		{"messages during the linger arrive in one batch", 3 * time.Second, 5, []int{1, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			cat := fresh("steady")
			rec := runBatches(t, s, messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: cat,
				SteadyLinger: tc.linger})
			writeN(t, s, cat, 1, messagestore.Metadata{})
			eventually(t, 20*time.Second, "the first message handled", func() bool { _, n := rec.batches(); return n == 1 })
			if tc.more > 0 {
				writeN(t, s, cat, tc.more, messagestore.Metadata{}) // one transaction each
				eventually(t, 20*time.Second, "every message handled", func() bool { _, n := rec.batches(); return n == 1+tc.more })
			}
			if sizes, _ := rec.batches(); !slices.Equal(sizes, tc.want) {
				t.Fatalf("batches %v, want %v", sizes, tc.want)
			}
		})
	}
}

// headChecked is a running store that looks at the store's head every 100 ms, with a subscription
// to a fresh category whose polls are a minute apart, past its first read: only a wake-up makes it
// read again soon.
type headChecked struct {
	s    *messagestore.Store
	pool *pgxpool.Pool // a plain pool, as another Message DB client would write with
	cat  string
	rec  *recorder
	ctx  context.Context // ends with the test
}

func newHeadChecked(t *testing.T) *headChecked {
	t.Helper()
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	h := &headChecked{pool: pool, cat: fresh("foreign"), rec: &recorder{},
		s: messagestore.New(pool, messagestore.Options{Logger: quiet, HeadCheckInterval: 100 * time.Millisecond})}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	go h.s.Run(ctx)
	sub, _ := h.s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(), Category: h.cat,
		Handlers:        map[string]messagestore.Handler{"Deposited": h.rec.handle},
		MinPollInterval: time.Minute, MaxPollInterval: time.Minute, ListeningMaxPollInterval: time.Minute}, nil)
	sup := messagestore.NewSupervisor(h.s, nil, sub)
	done := make(chan error)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, 10*time.Second, "listening and idle", func() bool {
		return h.s.Listening() && sub.Status().State == messagestore.StateRunning
	})
	time.Sleep(300 * time.Millisecond) // past its first read: now it waits for a wake-up or a minute
	return h
}

// writeForeign writes a message to the category as another Message DB client does: plain SQL, no
// in-process signal, no NOTIFY; and waits for the subscription to handle it.
func (h *headChecked) writeForeign(t *testing.T) {
	t.Helper()
	if _, err := h.pool.Exec(context.Background(), `SELECT message_store.write_message($1, $2, 'Deposited', '{"amount": 1}')`,
		uuid.NewString(), messagestore.StreamName(h.cat, uuid.NewString())); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the unannounced message handled", func() bool { return h.rec.count() == 1 })
}

// A message written by another Message DB client (plain SQL: no in-process signal, no NOTIFY) wakes
// the subscriptions of a running store at its next look at the store's head, not at their next idle
// poll, which is a minute away here.
func TestUnannouncedWritesWakeSubscriptionsAtTheNextHeadCheck(t *testing.T) {
	newHeadChecked(t).writeForeign(t)
}

// The store-wide reader sees a message only once every older transaction has ended (get_all_messages
// reads below the snapshot's xmin), so the read a write's wake-up causes can come back empty while an
// older transaction is still open: a view-data transaction of an aggregator, another process's write,
// anything in the cluster. That transaction's end wakes nothing; the subscription must look again soon,
// as it did when a wake-up restarted its polls, not only at its next idle poll, however far off its
// back-off has taken it (here over four seconds; up to ListeningMaxPollInterval, 30 s, in the program).
func TestStoreWideSubscriptionGetsAWriteHeldBackByAnOlderTransactionSoon(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") != "" {
		t.Skip("needs a database nobody else writes to while the subscription backs off")
	}
	ctx := context.Background()
	s := newStore(t)
	cat := fresh("heldback")
	var mu sync.Mutex
	seen := map[string]bool{}
	sub, err := s.Subscribe(messagestore.SubscriptionConfig{SubscriberID: "test:" + uuid.NewString(),
		Category: messagestore.AllCategories, PositionUpdatePeriod: time.Hour,
		MinPollInterval: 300 * time.Millisecond, MaxPollInterval: time.Hour,
		HandleBatch: func(_ context.Context, msgs []messagestore.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				if messagestore.Category(m.StreamName) == cat {
					seen[m.StreamName] = true
				}
			}
			return nil
		}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, sub)
	defer stop()
	got := func(stream string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return seen[stream]
		}
	}
	first := messagestore.StreamName(cat, uuid.NewString())
	if _, err := s.Write(ctx, first, messagestore.AnyVersion, messagestore.NewMessage{Type: "First"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "caught up", got(first))
	// Idle: the polls back off, 0.3 + 0.6 + 1.2 + 2.4 s; the next one is 4.8 s away.
	time.Sleep(4600 * time.Millisecond)

	older, err := newStore(t).Pool().Begin(ctx) // another connection, as any other client
	if err != nil {
		t.Fatal(err)
	}
	defer older.Rollback(ctx) //nolint:errcheck
	// It has a transaction id now, older than the next write's.
	if _, err := older.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	heldBack := messagestore.StreamName(cat, uuid.NewString())
	if _, err := s.Write(ctx, heldBack, messagestore.AnyVersion, messagestore.NewMessage{Type: "HeldBack"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the wake-up's read came back empty
	if err := older.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "the held-back message, well before the next idle poll", got(heldBack))
}

// The same, while this process is busy with writes of its own: they wake its subscriptions all the
// time, and used to hide the foreign write from the head check until the idle polls found it.
func TestUnannouncedWritesAmongOwnWritesWakeSubscriptionsAtTheNextHeadCheck(t *testing.T) {
	h := newHeadChecked(t)
	// Own writes to another category, every 10 ms, until the test ends.
	busy := fresh("busy")
	ctx, stop := context.WithCancel(h.ctx)
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for ctx.Err() == nil {
			_, _ = h.s.Write(ctx, messagestore.StreamName(busy, uuid.NewString()), messagestore.AnyVersion,
				messagestore.NewMessage{Type: "Busy"})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { stop(); <-writing })
	time.Sleep(300 * time.Millisecond)
	h.writeForeign(t)
}
