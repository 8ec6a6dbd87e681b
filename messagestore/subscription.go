package messagestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// Handler handles one message. It must be idempotent: after a crash a message may be handed over again.
type Handler func(ctx context.Context, m Message) error

// BatchHandler handles every message of one read batch that passed the filter, in order, at once. It
// lets an aggregator apply a whole batch in one transaction. It must be idempotent.
type BatchHandler func(ctx context.Context, msgs []Message) error

// SubscriptionConfig describes a subscription.
type SubscriptionConfig struct {
	SubscriberID string // fixed string: its position stream is subscriberPosition-<SubscriberID>
	Category     string
	// Handlers maps message types to handlers; messages of other types are skipped.
	Handlers map[string]Handler
	// HandleBatch, when set, is used instead of Handlers: it receives each read batch's messages of
	// the types listed in BatchTypes (all types when BatchTypes is empty).
	HandleBatch BatchHandler
	BatchTypes  []string
	// OriginCategory keeps only messages whose metadata originStreamName is in this category.
	OriginCategory string
	// Correlation is passed to the category read: only messages whose correlationStreamName is in
	// this category are even read (filtered by the server).
	Correlation string

	BatchSize int // messages per read; default 500
	// CatchUpBatchSize is the read size while the subscription is behind (its last read was full);
	// default 2000 with HandleBatch (an aggregator applies a whole read in one transaction), BatchSize
	// otherwise. While behind, a HandleBatch subscription saves its position by PositionUpdatePeriod
	// only, not after every read: its handler's watermark makes a replay after a crash harmless.
	CatchUpBatchSize int
	// PositionUpdateInterval: save the position after this many messages; default 100, or 1000 with
	// HandleBatch, whose handler applies a read in one transaction behind its own watermark, so that
	// the messages read again after a crash change nothing. Each save is a message that the admin
	// aggregators then handle; under a steady load of viewings the three aggregators on viewing-*
	// saved 150 times a second at 100.
	PositionUpdateInterval int
	PositionUpdatePeriod   time.Duration // …or after this long with unsaved progress; default 1s
	MinPollInterval        time.Duration // first idle poll delay; default 100ms
	MaxPollInterval        time.Duration // idle polls back off up to this; default 5s
	// ListeningMaxPollInterval replaces MaxPollInterval while the store receives other processes'
	// write announcements (Store.Run's LISTEN connection is up): every write then wakes the
	// subscription at once, so polling is only the safety net (e.g. for writers that do not NOTIFY,
	// such as other Message DB clients). Default 30s, and never below MaxPollInterval.
	ListeningMaxPollInterval time.Duration
	// Linger, when set, is how long the subscription waits before each read while it is caught up
	// (after a wake-up, and between the batches of a steady stream), so that a read brings more
	// messages. Every batch costs the same few statements and a transaction whatever its size: for a
	// view that can be some milliseconds late, fewer, larger batches spend less of the database on the
	// same messages. 0 (the default) reads at once. Never while catching up.
	Linger time.Duration
	// SteadyLinger, when set, is how long the subscription waits before its next read after a read
	// that found messages, while caught up. Under a steady stream the next read then brings more
	// messages (as with Linger), but a message after a quiet spell is read at once: for a view that a
	// visitor waits on, such as the home page's count after a viewing, which stays as quick as without
	// it while the system is quiet, and costs the database far less while it is busy. After such a
	// read the larger of Linger and SteadyLinger applies. Never while catching up.
	SteadyLinger time.Duration
	MaxAttempts  int           // failures of one message before parking; default 5
	RetryBackoff time.Duration // first retry delay, doubling; default 100ms
	// AnnounceRetryingAfter: a message still failing after this long (a transient error, retried
	// for as long as it takes: a full disk, a database that refuses connections) is announced in the
	// status stream (Retrying), so that the admin pages of every process show it, not only the
	// process that runs the subscription; default 10s. A message that parks first is announced
	// as Parked only.
	AnnounceRetryingAfter time.Duration
	Logger                *slog.Logger
}

// State is what a subscription is doing.
type State string

const (
	StateStarting State = "starting"
	StateStandby  State = "standby" // another process holds the lease
	StateRunning  State = "running"
	StateRetrying State = "retrying" // a message failed and is being retried
	StateParked   State = "parked"   // a message kept failing; waiting for Retry
	StateStopped  State = "stopped"
)

// Status is a snapshot of a subscription, for /readyz, metrics and the admin portal.
type Status struct {
	SubscriberID  string
	Category      string
	State         State
	Position      int64 // global position of the last message dealt with
	SavedPosition int64
	Handled       uint64
	Failed        uint64
	LastError     string
	FailingSince  time.Time
	Attempts      int
	// FailingMessage is the message being retried or parked on.
	FailingMessage *Message
}

// Subscription reads a category and hands its messages to handlers. See the package doc for the rules.
type Subscription struct {
	cfg    SubscriptionConfig
	store  *Store
	leases *Leases
	log    *slog.Logger
	types  map[string]bool

	mu     sync.Mutex
	status Status
	retry  chan struct{}
	// announcedParked says the subscription's status stream ends with Parked: this runner announced
	// it, or found it there when it started (another runner parked, then stopped). Only the goroutine
	// running the subscription touches it.
	announcedParked bool
	// announcedRetrying says the same of Retrying. Either makes the next message handled announce
	// Resumed.
	announcedRetrying bool
	// lastParkedOnPosition says the announced park was on the saved position (parkOnPosition), which
	// reading the position again ends; any other park ends with the next message handled.
	lastParkedOnPosition bool
}

// Subscribe creates a subscription; Run starts it. leases may be nil (no coordination between
// processes: only for tests and tools).
func (s *Store) Subscribe(cfg SubscriptionConfig, leases *Leases) (*Subscription, error) {
	if cfg.SubscriberID == "" || cfg.Category == "" {
		return nil, errors.New("messagestore: a subscription needs a subscriber id and a category")
	}
	if cfg.Category != AllCategories && !IsCategory(cfg.Category) {
		return nil, fmt.Errorf("messagestore: subscription %s: %q is not a category", cfg.SubscriberID, cfg.Category)
	}
	if (cfg.HandleBatch == nil) == (len(cfg.Handlers) == 0) {
		return nil, fmt.Errorf("messagestore: subscription %s needs either Handlers or HandleBatch", cfg.SubscriberID)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.BatchSize, 500)
	if cfg.HandleBatch != nil {
		def(&cfg.PositionUpdateInterval, 1000)
	} else {
		def(&cfg.PositionUpdateInterval, 100)
	}
	def(&cfg.MaxAttempts, 5)
	defd(&cfg.PositionUpdatePeriod, time.Second)
	defd(&cfg.MinPollInterval, 100*time.Millisecond)
	defd(&cfg.MaxPollInterval, 5*time.Second)
	defd(&cfg.ListeningMaxPollInterval, 30*time.Second)
	cfg.ListeningMaxPollInterval = max(cfg.ListeningMaxPollInterval, cfg.MaxPollInterval)
	if cfg.HandleBatch != nil {
		def(&cfg.CatchUpBatchSize, max(2000, cfg.BatchSize))
	} else {
		def(&cfg.CatchUpBatchSize, cfg.BatchSize)
	}
	defd(&cfg.RetryBackoff, 100*time.Millisecond)
	defd(&cfg.AnnounceRetryingAfter, 10*time.Second)
	log := cfg.Logger
	if log == nil {
		log = s.log
	}
	types := map[string]bool{}
	for t := range cfg.Handlers {
		types[t] = true
	}
	for _, t := range cfg.BatchTypes {
		types[t] = true
	}
	return &Subscription{
		cfg: cfg, store: s, leases: leases, types: types,
		log:    log.With("subscriber", cfg.SubscriberID, "category", cfg.Category),
		status: Status{SubscriberID: cfg.SubscriberID, Category: cfg.Category, State: StateStarting},
		retry:  make(chan struct{}, 1),
	}, nil
}

// PositionStreamName is where a subscriber's position is kept (book compatible).
func PositionStreamName(subscriberID string) string {
	return StreamName(positionCategory, subscriberID)
}

// StatusCategory holds one stream per subscriber, subscriberStatus-<subscriber id>, in which the
// subscription announces that it parked (Parked), that it has kept retrying a message for a while
// (Retrying), and that it moved on again (Resumed), for the
// processes that do not run it: when workers run the subscriptions, the admin pages of the web
// processes show a parked one from there (the admin-subscriber-positions aggregator). The position
// stream keeps only Read messages, as the book's readers of it expect.
const StatusCategory = "subscriberStatus"

// StatusStreamName is the subscriber's status stream.
func StatusStreamName(subscriberID string) string {
	return StreamName(StatusCategory, subscriberID)
}

// Parked announces that a subscription parked on a message that keeps failing (or on a saved
// position it cannot read), until someone retries it.
type Parked struct {
	GlobalPosition int64  `json:"globalPosition"` // of the failing message
	StreamName     string `json:"streamName"`
	Type           string `json:"type"`
	MessageID      string `json:"messageId"`
	Error          string `json:"error"` // the last failure, at most maxAnnouncedError bytes
	Attempts       int    `json:"attempts"`
}

// Retrying announces that a subscription has been failing on one message for a while
// (SubscriptionConfig.AnnounceRetryingAfter) and keeps retrying it: a transient error, or one that
// has not yet failed MaxAttempts times. Parked or Resumed follows.
type Retrying struct {
	GlobalPosition int64     `json:"globalPosition"` // of the failing message
	StreamName     string    `json:"streamName"`
	Type           string    `json:"type"`
	MessageID      string    `json:"messageId"`
	Error          string    `json:"error"` // the last failure, at most maxAnnouncedError bytes
	Attempts       int       `json:"attempts"`
	Transient      bool      `json:"transient"` // retried for as long as it takes, never parked
	Since          time.Time `json:"since"`     // the first failure
}

// Resumed announces that a parked or retrying subscription got past the message it failed on, or
// read its saved position again.
type Resumed struct {
	Position int64 `json:"position"` // where it stands
}

// maxAnnouncedError bounds the error text a Parked message carries.
const maxAnnouncedError = 2000

// Read is the message a subscription writes to record its position.
type Read struct {
	Position int64 `json:"position"`
	// TransactionID completes the position of a store-wide subscription (see ReadAll).
	TransactionID uint64 `json:"transactionId,omitempty,string"`
}

// SubscriberID returns the subscription's id.
func (s *Subscription) SubscriberID() string { return s.cfg.SubscriberID }

// Category returns the subscribed category.
func (s *Subscription) Category() string { return s.cfg.Category }

// Status returns a snapshot of the subscription.
func (s *Subscription) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if st.FailingMessage != nil {
		m := *st.FailingMessage
		st.FailingMessage = &m
	}
	return st
}

// Retry wakes a parked subscription to try its failing message again.
func (s *Subscription) Retry() {
	select {
	case s.retry <- struct{}{}:
	default:
	}
}

func (s *Subscription) update(f func(*Status)) {
	s.mu.Lock()
	f(&s.status)
	s.mu.Unlock()
}

// Run runs the subscription until ctx is done. It returns nil on shutdown; it never gives up on its
// own: read errors are retried with back-off, and a message that keeps failing parks the subscription
// until Retry is called.
func (s *Subscription) Run(ctx context.Context) error {
	defer s.update(func(st *Status) { st.State = StateStopped })
	for ctx.Err() == nil {
		runCtx := ctx
		release := func() {}
		if s.leases != nil {
			s.update(func(st *Status) { st.State = StateStandby })
			lctx, rel, err := s.leases.Acquire(ctx, s.cfg.SubscriberID)
			if err != nil {
				return nil // ctx done
			}
			runCtx, release = lctx, rel
		}
		s.update(func(st *Status) { st.State = StateRunning })
		s.log.Debug("subscription started")
		s.run(runCtx)
		release()
		if ctx.Err() == nil {
			// Lost with the lease connection (Leases logs that as a warning) or given up to a peer.
			s.log.Info("subscription stopped: its lease was lost or given up; waiting to take it back")
		}
	}
	return nil
}

// run reads and handles until ctx is done; it saves the position on the way out.
func (s *Subscription) run(ctx context.Context) {
	s.announcedParked, s.announcedRetrying, s.lastParkedOnPosition = s.lastAnnounced(ctx)
	position, txid, ok := s.loadPosition(ctx)
	if !ok {
		return
	}
	saved := position
	lastSave := time.Now()
	// dirty says there is progress worth saving on time (PositionUpdatePeriod). A subscription that
	// reads its own position stream (store-wide, or on subscriberPosition) would otherwise see each
	// save as new progress and save again forever; passing over its own Read messages is not
	// progress. Other subscribers' Read messages are progress, but not worth a timed save: two
	// subscriptions that read position streams (admin-streams and admin-subscriber-positions) would
	// otherwise answer each other's saves forever, keeping an idle program busy. Those count only
	// towards PositionUpdateInterval (and the save on shutdown), so each such save needs that many
	// others, and the echo dies out.
	dirty := false
	sinceSave := 0 // messages passed since the last save, own Read messages excepted
	ownStream := PositionStreamName(s.cfg.SubscriberID)
	s.update(func(st *Status) { st.Position, st.SavedPosition = position, saved })
	passed := func(m Message) {
		if m.StreamName == ownStream {
			return
		}
		sinceSave++
		if Category(m.StreamName) != positionCategory {
			dirty = true
		}
	}
	save := func(c context.Context) {
		if sinceSave == 0 || position == saved {
			return
		}
		if err := s.savePosition(c, position, txid); err != nil {
			if c.Err() == nil {
				s.log.Warn("saving position failed; will try again", "position", position, "err", err)
			}
			return
		}
		saved, lastSave, dirty, sinceSave = position, time.Now(), false, 0
		s.update(func(st *Status) { st.SavedPosition = saved })
	}
	defer func() {
		// On shutdown (or a lost lease) the position is saved with a context of its own, so that the
		// work done since the last save is not done again after a restart.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		save(c)
		cancel()
	}()

	poll := s.cfg.MinPollInterval
	readBackoff := s.cfg.RetryBackoff
	behind := false // the last read was full: read more at once, save less often
	// large caps the read size after a read that reached the store's ReadBudget (large messages):
	// the store sends a whole batch and keeps only what fits the budget, so asking for the usual
	// thousands would transfer them again at every read. It doubles back with each read well under the
	// budget. 0: no cap.
	large := 0
	found := false // the last read found messages: SteadyLinger applies
	for ctx.Err() == nil {
		if !behind {
			linger := s.cfg.Linger
			if found {
				linger = max(linger, s.cfg.SteadyLinger)
			}
			if linger > 0 {
				sleep(ctx, linger)
			}
		}
		wake := s.store.WaitFor(s.cfg.Category)
		size := s.cfg.BatchSize
		if behind {
			size = s.cfg.CatchUpBatchSize
		}
		if large > 0 {
			size = min(size, large)
		}
		msgs, err := s.read(ctx, position, txid, size)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("reading failed; retrying", "position", position+1, "err", err, "in", readBackoff)
			sleep(ctx, readBackoff)
			readBackoff = min(readBackoff*2, s.cfg.MaxPollInterval)
			continue
		}
		readBackoff = s.cfg.RetryBackoff
		bytes := 0
		for _, m := range msgs {
			bytes += len(m.Data) + len(m.RawMetadata)
		}
		switch {
		case bytes >= s.store.readBudget: // the read may have been cut short: more is there
			large = max(1, len(msgs))
		case large > 0 && bytes < s.store.readBudget/2:
			if large *= 2; large >= s.cfg.CatchUpBatchSize {
				large = 0
			}
		}
		behind = len(msgs) >= size || bytes >= s.store.readBudget
		found = len(msgs) > 0
		if len(msgs) == 0 {
			if dirty && time.Since(lastSave) >= s.cfg.PositionUpdatePeriod {
				save(ctx)
			}
			maxPoll := s.cfg.MaxPollInterval
			if s.store.Listening() {
				maxPoll = s.cfg.ListeningMaxPollInterval
			}
			timer := time.NewTimer(min(poll, maxPoll))
			select {
			case <-ctx.Done():
			case <-wake:
				// Read at once, but keep backing off: a wake-up that brings nothing (a write to
				// another category for a store-wide reader, the head check's wake-all) is not
				// activity, and starting the polls again from MinPollInterval would cost a read per
				// subscription for each of them. A read that finds messages starts them again.
				// The store-wide reader is the exception: it sees a write only once every older
				// transaction has ended (ReadAll), so the read a wake-up causes can come back empty
				// while one is still open, and that one's end wakes nothing. It looks again soon.
				if s.cfg.Category == AllCategories {
					poll = s.cfg.MinPollInterval
				}
			case <-timer.C:
				poll = min(poll*2, maxPoll)
			}
			timer.Stop()
			continue
		}
		poll = s.cfg.MinPollInterval

		if s.cfg.HandleBatch != nil {
			// The read itself when every message is wanted (the usual case: no filter); a copy of the
			// wanted ones otherwise, since the position advances past them all.
			keep := msgs
			for i, m := range msgs {
				if !s.wants(m) {
					keep = slices.Clone(msgs[:i])
					for _, m := range msgs[i+1:] {
						if s.wants(m) {
							keep = append(keep, m)
						}
					}
					break
				}
			}
			if len(keep) > 0 {
				if !s.handle(ctx, keep[0], func(c context.Context) error { return s.cfg.HandleBatch(c, keep) }, len(keep)) {
					return
				}
			}
			position, txid = msgs[len(msgs)-1].GlobalPosition, msgs[len(msgs)-1].TransactionID
			for _, m := range msgs {
				passed(m)
			}
			s.update(func(st *Status) { st.Position = position })
			if behind {
				// Catching up: the handler's watermark makes a replay harmless, so save on time only.
				if dirty && time.Since(lastSave) >= s.cfg.PositionUpdatePeriod {
					save(ctx)
				}
				continue
			}
		} else {
			for _, m := range msgs {
				if s.wants(m) {
					h := s.cfg.Handlers[m.Type]
					if !s.handle(ctx, m, func(c context.Context) error { return h(c, m) }, 1) {
						return
					}
				}
				// Filtered and unhandled messages advance the position too: a subscription never
				// stalls on messages that are not for it.
				position, txid = m.GlobalPosition, m.TransactionID
				passed(m)
				if sinceSave >= s.cfg.PositionUpdateInterval {
					s.update(func(st *Status) { st.Position = position })
					save(ctx)
				}
			}
		}
		s.update(func(st *Status) { st.Position = position })
		if sinceSave >= s.cfg.PositionUpdateInterval || (dirty && time.Since(lastSave) >= s.cfg.PositionUpdatePeriod) {
			save(ctx)
		}
	}
}

// positionCategory is the category of the subscribers' position streams.
const positionCategory = "subscriberPosition"

// read returns the messages after the position.
func (s *Subscription) read(ctx context.Context, position int64, txid uint64, size int) ([]Message, error) {
	if s.cfg.Category == AllCategories {
		return s.store.ReadAll(ctx, txid, position, size)
	}
	return s.store.ReadCategory(ctx, s.cfg.Category, position+1, size, CategoryRead{Correlation: s.cfg.Correlation})
}

func (s *Subscription) wants(m Message) bool {
	if s.cfg.OriginCategory != "" && Category(m.Metadata.OriginStreamName) != s.cfg.OriginCategory {
		return false
	}
	if s.cfg.HandleBatch != nil && len(s.cfg.BatchTypes) == 0 {
		return true
	}
	return s.types[m.Type]
}

// handle runs fn until it succeeds. Transient errors are retried for as long as it takes; any other
// error is retried MaxAttempts times and then parks the subscription until Retry. It returns false
// when ctx is done, or when the subscription's lease has not been confirmed lately (Leases.Current):
// the subscription then stops, and runs again once it holds the lease.
func (s *Subscription) handle(ctx context.Context, m Message, fn func(context.Context) error, n int) bool {
	attempts := 0
	backoff := s.cfg.RetryBackoff
	var failingSince time.Time // the first failure since the last success or retry
	for {
		if s.leases != nil && !s.leases.Current() {
			// Frozen for longer than the lease timeout (or the lease session has not been answered
			// for that long): a peer may hold the lease by now. Stop before the message; Run takes
			// the lease again, or waits for it, once the lease session says which.
			s.log.Warn("lease not confirmed lately; stopping before the next message until it is",
				"stream", m.StreamName, "globalPosition", m.GlobalPosition)
			return false
		}
		start := time.Now()
		err := s.call(ctx, fn)
		if err == nil {
			d := time.Since(start)
			for range n {
				s.store.observer.MessageHandled(s.cfg.SubscriberID, d/time.Duration(n))
			}
			s.update(func(st *Status) {
				st.Handled += uint64(n)
				if st.State != StateRunning {
					st.State, st.LastError, st.Attempts, st.FailingMessage = StateRunning, "", 0, nil
					st.FailingSince = time.Time{}
				}
			})
			if s.announcedParked || s.announcedRetrying {
				s.announceResumed(ctx, m.GlobalPosition)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if s.leases != nil && !s.leases.Current() {
			// Frozen past the lease timeout while the handler ran (the check above, in the next round,
			// comes too late for this failure): a peer may run the subscription by now, and may be past
			// the message already, so parking here would announce a park that nobody runs into. Stop
			// instead; the message is tried again by whoever holds the lease.
			s.log.Warn("lease not confirmed lately; stopping after a failed message instead of retrying or parking",
				"stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
			return false
		}
		attempts++
		if attempts == 1 {
			failingSince = time.Now()
		}
		s.store.observer.MessageFailed(s.cfg.SubscriberID)
		transient := IsTransient(err)
		log := s.log.With("stream", m.StreamName, "globalPosition", m.GlobalPosition, "type", m.Type,
			"traceId", m.Metadata.TraceID, "attempt", attempts, "err", err)
		parked := !transient && attempts >= s.cfg.MaxAttempts
		s.update(func(st *Status) {
			st.Failed++
			st.LastError = err.Error()
			st.Attempts = attempts
			if st.FailingMessage == nil || st.FailingMessage.GlobalPosition != m.GlobalPosition {
				mm := m
				st.FailingMessage = &mm
				st.FailingSince = time.Now()
			}
			st.State = StateRetrying
			if parked {
				st.State = StateParked
			}
		})
		if parked {
			log.Error("message keeps failing: subscription parked until retried")
			s.announceParked(ctx, m, err, attempts)
			select {
			case <-ctx.Done():
				return false
			case <-s.retry:
			}
			log.Info("retrying parked message")
			attempts, backoff = 0, s.cfg.RetryBackoff
			continue
		}
		if !s.announcedParked && !s.announcedRetrying && time.Since(failingSince) >= s.cfg.AnnounceRetryingAfter {
			s.announceRetrying(ctx, m, err, attempts, transient, failingSince)
		}
		if IsVersionConflict(err) {
			// Someone wrote to the entity's stream between our fetch and our write: fetch again now.
			continue
		}
		log.Warn("handler failed; retrying", "in", backoff, "transient", transient)
		select {
		case <-ctx.Done():
			return false
		case <-s.retry:
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// call runs a handler and turns a panic into its error: a bug that some message reaches (another
// writer's odd shape, say) parks this subscription on it, visibly and retriably, instead of taking the
// whole process down — every other subscription and the web server with it, and again after each
// restart, on the same message. The stack goes to the log.
func (s *Subscription) call(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return fn(ctx)
}

// loadPosition reads the subscription's saved position, retrying while the store cannot be read. A
// saved position that cannot be decoded (a Read of another shape, written by another client) parks
// the subscription on that message until Retry: reading it again would never help, and retrying out
// of sight would show the subscription as running while it handles nothing. It returns false only
// when ctx is done.
func (s *Subscription) loadPosition(ctx context.Context) (int64, uint64, bool) {
	backoff := s.cfg.RetryBackoff
	for {
		m, err := s.store.LastMessage(ctx, PositionStreamName(s.cfg.SubscriberID), "Read")
		if err == nil {
			if m == nil {
				return 0, 0, true
			}
			var r Read
			if err = m.Decode(&r); err == nil {
				s.update(func(st *Status) {
					if st.State == StateParked {
						st.State, st.LastError, st.Attempts, st.FailingMessage = StateRunning, "", 0, nil
						st.FailingSince = time.Time{}
					}
				})
				if s.announcedParked && s.lastParkedOnPosition {
					s.announceResumed(ctx, r.Position)
				}
				return r.Position, r.TransactionID, true
			}
			if !s.parkOnPosition(ctx, *m, err) {
				return 0, 0, false
			}
			backoff = s.cfg.RetryBackoff
			continue
		}
		if ctx.Err() != nil {
			return 0, 0, false
		}
		s.log.Warn("loading position failed; retrying", "err", err, "in", backoff)
		sleep(ctx, backoff)
		backoff = min(backoff*2, s.cfg.MaxPollInterval)
	}
}

// parkOnPosition parks the subscription on its unreadable saved position m until Retry (true) or
// until ctx is done (false).
func (s *Subscription) parkOnPosition(ctx context.Context, m Message, err error) bool {
	err = fmt.Errorf("the saved position cannot be read (save a valid Read {position} in %s, then retry): %w",
		m.StreamName, err)
	s.store.observer.MessageFailed(s.cfg.SubscriberID)
	s.update(func(st *Status) {
		st.Failed++
		st.State, st.LastError, st.Attempts = StateParked, err.Error(), 1
		if st.FailingMessage == nil || st.FailingMessage.GlobalPosition != m.GlobalPosition {
			mm := m
			st.FailingMessage = &mm
			st.FailingSince = time.Now()
		}
	})
	s.log.Error("subscription parked until retried", "stream", m.StreamName, "globalPosition", m.GlobalPosition, "err", err)
	s.announceParked(ctx, m, err, 1)
	s.lastParkedOnPosition = true
	select {
	case <-ctx.Done():
		return false
	case <-s.retry:
		s.log.Info("retrying: loading the saved position again")
		return true
	}
}

// announcedError is err's text as a status message carries it: at most maxAnnouncedError bytes.
func announcedError(err error) string {
	text := err.Error()
	if len(text) > maxAnnouncedError {
		text = strings.ToValidUTF8(text[:maxAnnouncedError], "") + "…"
	}
	return text
}

// announceParked writes Parked to the status stream. The subscription is parked whether or not that
// write works (the store may be what fails); it is logged either way.
func (s *Subscription) announceParked(ctx context.Context, m Message, err error, attempts int) {
	p := Parked{GlobalPosition: m.GlobalPosition, StreamName: m.StreamName, Type: m.Type, MessageID: m.ID,
		Error: announcedError(err), Attempts: attempts}
	if _, werr := s.store.Write(ctx, StatusStreamName(s.cfg.SubscriberID), AnyVersion, NewMessage{Type: "Parked", Data: p}); werr != nil {
		if ctx.Err() == nil {
			s.log.Warn("announcing the park failed; only this process shows it", "err", werr)
		}
		return
	}
	s.announcedParked, s.announcedRetrying, s.lastParkedOnPosition = true, false, false
}

// announceRetrying writes Retrying to the status stream, once per failing message. The write often
// fails for the very reason the handler does (the database is what is down); the subscription then
// tries again after its next failure, and the admin pages of other processes show its lag only.
func (s *Subscription) announceRetrying(ctx context.Context, m Message, err error, attempts int, transient bool, since time.Time) {
	r := Retrying{GlobalPosition: m.GlobalPosition, StreamName: m.StreamName, Type: m.Type, MessageID: m.ID,
		Error: announcedError(err), Attempts: attempts, Transient: transient, Since: since.UTC()}
	if _, werr := s.store.Write(ctx, StatusStreamName(s.cfg.SubscriberID), AnyVersion, NewMessage{Type: "Retrying", Data: r}); werr != nil {
		if ctx.Err() == nil {
			s.log.Warn("announcing that the subscription keeps retrying failed; will try again after the next failure", "err", werr)
		}
		return
	}
	s.announcedRetrying = true
}

// announceResumed writes Resumed to the status stream after a park was announced.
func (s *Subscription) announceResumed(ctx context.Context, position int64) {
	if _, err := s.store.Write(ctx, StatusStreamName(s.cfg.SubscriberID), AnyVersion,
		NewMessage{Type: "Resumed", Data: Resumed{Position: position}}); err != nil {
		if ctx.Err() == nil {
			s.log.Warn("announcing that the subscription resumed failed; will try again after the next message", "err", err)
		}
		return
	}
	s.announcedParked, s.announcedRetrying, s.lastParkedOnPosition = false, false, false
}

// clearStalePark writes Resumed to the status stream when it ends with Parked although the
// subscription runs here and is not parked: a Parked of another Message DB client, or one whose
// Resumed could not be written when the subscription got past its message (it writes again only after
// the next message, which may not come). The admin pages would otherwise show the park, and their
// retry would change nothing. The write expects the stream as read, so a Parked the subscription
// itself writes in between is not covered up.
func (s *Subscription) clearStalePark() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream := StatusStreamName(s.cfg.SubscriberID)
	m, err := s.store.LastMessage(ctx, stream, "")
	if err != nil || m == nil || (m.Type != "Parked" && m.Type != "Retrying") {
		return
	}
	st := s.Status()
	if st.State != StateRunning {
		return
	}
	if _, err := s.store.Write(ctx, stream, m.Position, NewMessage{Type: "Resumed", Data: Resumed{Position: st.Position}}); err != nil {
		if !IsVersionConflict(err) {
			s.log.Warn("clearing a park the status stream still shows failed", "err", err)
		}
		return
	}
	s.log.Info("retry requested while running: the park the status stream still showed is cleared",
		"parkedAtGlobalPosition", m.GlobalPosition)
}

// lastAnnounced reports whether the status stream ends with Parked or with Retrying (a runner
// parked, or kept retrying, and stopped; this one takes over and will announce when it gets past),
// and whether a park was on the saved position. A failed read counts as neither: nothing is announced
// then, as before status streams.
func (s *Subscription) lastAnnounced(ctx context.Context) (parked, retrying, onPosition bool) {
	m, err := s.store.LastMessage(ctx, StatusStreamName(s.cfg.SubscriberID), "")
	if err != nil || m == nil {
		return false, false, false
	}
	switch m.Type {
	case "Parked":
		var p Parked
		_ = m.Decode(&p)
		return true, false, p.StreamName == PositionStreamName(s.cfg.SubscriberID)
	case "Retrying":
		return false, true, false
	}
	return false, false, false
}

func (s *Subscription) savePosition(ctx context.Context, position int64, txid uint64) error {
	_, err := s.store.Write(ctx, PositionStreamName(s.cfg.SubscriberID), AnyVersion,
		NewMessage{Type: "Read", Data: Read{Position: position, TransactionID: txid}})
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
