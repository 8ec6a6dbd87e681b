package messagestore

import (
	"context"
	"fmt"
	"slices"
)

// Contract declares what one application, component or aggregator may do with the message store. The
// contracts are the single source for the scoped writers, the subscriptions main starts, the boundary
// test, the admin system map and the README's table.
type Contract struct {
	// Name is the book's name of the service: "identity", "register-users", "home-page", ….
	Name string
	// Kind is "application", "component" or "aggregator".
	Kind string
	// Owns lists the categories this service alone appends events to.
	Owns []string
	// Accepts lists its own command categories (its inboxes).
	Accepts []string
	// SendsTo lists other owners' command categories it writes commands to.
	SendsTo []string
	// Subscribes lists what it reads, by subscriber id.
	Subscribes []SubscriptionContract
}

// SubscriptionContract names one subscription of a contract.
type SubscriptionContract struct {
	SubscriberID string // persisted state (its position stream): a fixed string, never derived
	Category     string // AllCategories for the store-wide reader
	// OriginCategory keeps only messages whose metadata originStreamName is in this category.
	OriginCategory string
	Types          []string // message types it handles; others are skipped (and the position advances)
}

// MayWrite reports whether the contract allows appending to streamName.
func (c Contract) MayWrite(streamName string) bool {
	cat := Category(streamName)
	return slices.Contains(c.Owns, cat) || slices.Contains(c.SendsTo, cat) || slices.Contains(c.Accepts, cat)
}

// Writer appends to the store on behalf of one contract. It refuses streams outside the contract.
type Writer struct {
	store    *Store
	contract Contract
}

// WriterFor returns a writer scoped to c.
func (s *Store) WriterFor(c Contract) *Writer { return &Writer{store: s, contract: c} }

// Write is Store.Write, refused with *ContractError when streamName is outside the contract.
func (w *Writer) Write(ctx context.Context, streamName string, expectedVersion int64, msgs ...NewMessage) (int64, error) {
	if !w.contract.MayWrite(streamName) {
		return 0, &ContractError{Owner: w.contract.Name, StreamName: streamName}
	}
	return w.store.Write(ctx, streamName, expectedVersion, msgs...)
}

// Contract returns the contract the writer enforces.
func (w *Writer) Contract() Contract { return w.contract }

// Validate checks a contract for mistakes a reviewer would miss: empty names, command categories
// without the ":command" suffix, a category both owned and sent to.
func (c Contract) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("contract without a name")
	}
	for _, cat := range append(append(slices.Clone(c.Owns), c.Accepts...), c.SendsTo...) {
		if cat == "" || !IsCategory(cat) {
			return fmt.Errorf("contract %s: %q is not a category", c.Name, cat)
		}
	}
	for _, cat := range c.SendsTo {
		if slices.Contains(c.Owns, cat) {
			return fmt.Errorf("contract %s both owns and sends to %s", c.Name, cat)
		}
	}
	return nil
}
