package live

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// Notifier is the producer's view of the hub. Declare the same interface in
// the producing package rather than importing this one (see the package doc).
type Notifier interface {
	Publish(topic, event, data string)
}

// Event is one published event.
type Event struct {
	Topic string
	Name  string
	Data  string
}

// Options tune a Hub; zero values mean the defaults.
type Options struct {
	// Buffer is how many events a subscriber may fall behind before it is
	// dropped (and its page told to reload). Default 32.
	Buffer int
	// Retain is how long the last event of a topic is replayed to new
	// subscribers. Default 2 minutes; negative disables retention.
	Retain time.Duration
	// MaxRetained bounds the number of topics with a retained event, since
	// per-request topics (video-operation:<traceId>) are unbounded.
	// Default 10,000.
	MaxRetained int
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Hub routes published events to the subscribers of their topic. It is safe
// for concurrent use. The zero value is not usable; call NewHub.
type Hub struct {
	opts Options

	mu       sync.Mutex
	closed   bool
	subs     map[string]map[*Subscription]struct{}
	retained map[string]*list.Element // topic → element of order holding *retainedEvent
	order    *list.List               // retained events, least recently published first
}

type retainedEvent struct {
	ev Event
	at time.Time
}

// NewHub returns a hub with opts applied.
func NewHub(opts Options) *Hub {
	if opts.Buffer <= 0 {
		opts.Buffer = 32
	}
	if opts.Retain == 0 {
		opts.Retain = 2 * time.Minute
	}
	if opts.MaxRetained <= 0 {
		opts.MaxRetained = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Hub{
		opts:     opts,
		subs:     map[string]map[*Subscription]struct{}{},
		retained: map[string]*list.Element{},
		order:    list.New(),
	}
}

// validName reports whether s can be written into an SSE field: a newline
// would end the field and let data forge further fields or events.
func validName(s string) bool { return s != "" && !strings.ContainsAny(s, "\r\n") }

// Publish sends an event to the current subscribers of topic and retains it
// for subscribers that arrive shortly after. It never blocks. Events with an
// empty topic or an event name containing a line break are dropped.
func (h *Hub) Publish(topic, event, data string) {
	if topic == "" || !validName(event) {
		return
	}
	ev := Event{Topic: topic, Name: event, Data: data}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.retainLocked(ev)
	for sub := range h.subs[topic] {
		h.deliverLocked(sub, ev)
	}
}

// deliverLocked hands ev to sub without blocking; a full buffer means the
// subscriber is too slow and is dropped.
func (h *Hub) deliverLocked(sub *Subscription, ev Event) {
	select {
	case sub.ch <- ev:
	default:
		sub.lagged = true
		h.removeLocked(sub)
	}
}

func (h *Hub) retainLocked(ev Event) {
	if h.opts.Retain < 0 {
		return
	}
	now := h.opts.Now()
	if el, ok := h.retained[ev.Topic]; ok {
		el.Value = &retainedEvent{ev: ev, at: now}
		h.order.MoveToBack(el)
	} else {
		h.retained[ev.Topic] = h.order.PushBack(&retainedEvent{ev: ev, at: now})
	}
	// Evict from the front: the oldest entries are the expired ones, and
	// when over the cap, the least recently updated.
	for front := h.order.Front(); front != nil; front = h.order.Front() {
		r := front.Value.(*retainedEvent)
		if h.order.Len() <= h.opts.MaxRetained && now.Sub(r.at) < h.opts.Retain {
			break
		}
		h.order.Remove(front)
		delete(h.retained, r.ev.Topic)
	}
}

// Subscribe returns a subscription to topics. Recently retained events of
// those topics are delivered first. The caller must Close it (Stream does).
// Subscribing to a closed hub returns a subscription whose channel is closed.
func (h *Hub) Subscribe(topics ...string) *Subscription {
	sub := &Subscription{hub: h, topics: topics, ch: make(chan Event, h.opts.Buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		sub.closed = true
		close(sub.ch)
		return sub
	}
	now := h.opts.Now()
	for _, t := range topics {
		set := h.subs[t]
		if set == nil {
			set = map[*Subscription]struct{}{}
			h.subs[t] = set
		}
		set[sub] = struct{}{}
	}
	for _, t := range topics {
		if el, ok := h.retained[t]; ok {
			if r := el.Value.(*retainedEvent); now.Sub(r.at) < h.opts.Retain && !sub.closed {
				h.deliverLocked(sub, r.ev)
			}
		}
	}
	return sub
}

// removeLocked unregisters sub and closes its channel (once).
func (h *Hub) removeLocked(sub *Subscription) {
	if sub.closed {
		return
	}
	sub.closed = true
	for _, t := range sub.topics {
		if set := h.subs[t]; set != nil {
			delete(set, sub)
			if len(set) == 0 {
				delete(h.subs, t)
			}
		}
	}
	close(sub.ch)
}

// Subscribers returns how many subscriptions topic has (for tests, metrics).
func (h *Hub) Subscribers(topic string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[topic])
}

// Close ends every subscription and ignores later publishes. Streams return
// as their channels close.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, set := range h.subs {
		for sub := range set {
			h.removeLocked(sub)
		}
	}
	h.retained = map[string]*list.Element{}
	h.order.Init()
}

// Subscription is one subscriber's view of the hub.
type Subscription struct {
	hub    *Hub
	topics []string
	ch     chan Event
	// closed and lagged are guarded by hub.mu.
	closed bool
	lagged bool
}

// Events delivers the subscribed events. It is closed when the subscription
// is closed, the hub closes, or the subscriber lagged (see Lagged).
func (s *Subscription) Events() <-chan Event { return s.ch }

// Lagged reports whether the subscription was dropped for falling behind, in
// which case the client missed events and should reload.
func (s *Subscription) Lagged() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.lagged
}

// Close unsubscribes. It is idempotent.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s)
}
