package messagestore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// Message is a message as stored: an event or a command in a stream.
type Message struct {
	ID             string
	StreamName     string
	Type           string
	Position       int64 // within the stream, from 0
	GlobalPosition int64 // within the whole store
	Data           json.RawMessage
	Metadata       Metadata
	RawMetadata    json.RawMessage // as stored, including keys Metadata does not know
	Time           time.Time       // UTC, transaction start; operational data only
	// TransactionID is the writing transaction's id, set only by the store-wide reader (ReadAll),
	// whose order it is part of.
	TransactionID uint64
}

// Decode unmarshals the message's data into v.
func (m Message) Decode(v any) error {
	if len(m.Data) == 0 || string(m.Data) == "null" {
		return fmt.Errorf("message %s (%s) has no data", m.ID, m.Type)
	}
	if err := json.Unmarshal(m.Data, v); err != nil {
		return fmt.Errorf("decode %s %s at %s/%d: %w", m.Type, m.ID, m.StreamName, m.Position, err)
	}
	return nil
}

// Metadata is what a message says about where it came from. The JSON names are the book's (traceId,
// userId, originStreamName) and Message DB's/Eventide's (correlationStreamName, causationMessage…), so
// every client reads them the same way.
type Metadata struct {
	TraceID                        string `json:"traceId,omitempty"`
	UserID                         string `json:"userId,omitempty"`
	OriginStreamName               string `json:"originStreamName,omitempty"`
	CorrelationStreamName          string `json:"correlationStreamName,omitempty"`
	CausationMessageStreamName     string `json:"causationMessageStreamName,omitempty"`
	CausationMessagePosition       *int64 `json:"causationMessagePosition,omitempty"`
	CausationMessageGlobalPosition *int64 `json:"causationMessageGlobalPosition,omitempty"`
	CausationMessageID             string `json:"causationMessageId,omitempty"`
}

// FollowedFrom returns metadata for a message caused by m: the trace, acting user, origin and
// correlation carry over, and the causation fields point at m.
func (m Message) FollowedFrom() Metadata {
	md := m.Metadata
	pos, gpos := m.Position, m.GlobalPosition
	md.CausationMessageStreamName = m.StreamName
	md.CausationMessagePosition = &pos
	md.CausationMessageGlobalPosition = &gpos
	md.CausationMessageID = m.ID
	return md
}

// NewMessage is a message about to be written.
type NewMessage struct {
	ID       string // empty: a new time-ordered UUID (newMessageID)
	Type     string
	Data     any // marshalled to JSON; json.RawMessage is written as is
	Metadata Metadata
}

// NewEvent builds a NewMessage whose type is the Go type name of data (Registered, VideoNamed, …):
// the message types of the book are the names of the contract structs.
func NewEvent(data any, md Metadata) NewMessage {
	return NewMessage{Type: TypeName(data), Data: data, Metadata: md}
}

// TypeName is the message type for a contract value: its Go type name, without package or pointer.
func TypeName(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return t.Name()
}

// newMessageID returns a version 7 UUID: 48 bits of milliseconds, then 74 random bits. Every message
// adds an entry to the unique messages_id index; random (version 4) ids land on random leaf pages of
// an index that outgrows memory on a large store, and after each checkpoint the first change to every
// such page writes the whole page to the WAL. Time-ordered ids land at the index's right edge, on a few
// hot pages (docs/BENCHMARKS.md, "Time-ordered ids"). Message DB takes any UUID; readers must not
// read an order into ids (global_position is the order).
func newMessageID() string { return uuid.Must(uuid.NewV7()).String() }

func (n NewMessage) encode() (id string, data, metadata []byte, err error) {
	id = n.ID
	if id == "" {
		id = newMessageID()
	}
	if n.Type == "" {
		return "", nil, nil, fmt.Errorf("message %s has no type", id)
	}
	switch d := n.Data.(type) {
	case nil:
		data = []byte("{}")
	case json.RawMessage:
		data = d
	case []byte:
		data = d
	default:
		if data, err = json.Marshal(d); err != nil {
			return "", nil, nil, fmt.Errorf("encode %s data: %w", n.Type, err)
		}
	}
	if metadata, err = json.Marshal(n.Metadata); err != nil {
		return "", nil, nil, fmt.Errorf("encode %s metadata: %w", n.Type, err)
	}
	return id, data, metadata, nil
}
