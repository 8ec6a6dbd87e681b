package messagestore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"videotutorials/messagestore"
)

type Deposited struct {
	AccountID string `json:"accountId"`
	Amount    int    `json:"amount"`
}

func TestWriteAndRead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cat := fresh("account")
	stream := messagestore.StreamName(cat, uuid.NewString())
	md := messagestore.Metadata{TraceID: uuid.NewString(), UserID: uuid.NewString()}

	pos, err := s.Write(ctx, stream, messagestore.NoStream, messagestore.NewEvent(Deposited{"a", 10}, md))
	if err != nil || pos != 0 {
		t.Fatalf("first write: pos %d err %v", pos, err)
	}
	pos, err = s.Write(ctx, stream, 0,
		messagestore.NewEvent(Deposited{"a", 20}, md), messagestore.NewEvent(&Deposited{"a", 30}, md))
	if err != nil || pos != 2 {
		t.Fatalf("batch write: pos %d err %v", pos, err)
	}
	msgs, err := s.ReadStream(ctx, stream, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("read %d messages", len(msgs))
	}
	for i, m := range msgs {
		var d Deposited
		if err := m.Decode(&d); err != nil {
			t.Fatal(err)
		}
		if m.Type != "Deposited" || m.Position != int64(i) || d.Amount != (i+1)*10 || m.Metadata != md {
			t.Errorf("message %d: %+v %+v", i, m, d)
		}
		if i > 0 && m.GlobalPosition <= msgs[i-1].GlobalPosition {
			t.Errorf("global positions not increasing")
		}
		// Ids the store generates are time-ordered (version 7), for the insert locality of messages_id.
		if id, err := uuid.Parse(m.ID); err != nil || id.Version() != 7 {
			t.Errorf("message %d: generated id %q is not a version 7 UUID (%v)", i, m.ID, err)
		}
	}
	v, err := s.StreamVersion(ctx, stream)
	if err != nil || v != 2 {
		t.Fatalf("version %d err %v", v, err)
	}
	v, err = s.StreamVersion(ctx, messagestore.StreamName(cat, uuid.NewString()))
	if err != nil || v != -1 {
		t.Fatalf("empty version %d err %v", v, err)
	}
	last, err := s.LastMessage(ctx, stream, "")
	if err != nil || last == nil || last.Position != 2 {
		t.Fatalf("last %+v %v", last, err)
	}
	cm, err := s.ReadCategory(ctx, cat, 0, 2, messagestore.CategoryRead{})
	if err != nil || len(cm) != 2 || cm[0].ID != msgs[0].ID {
		t.Fatalf("category read %v %v", cm, err)
	}
}

func TestVersionConflictIsTypedAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	stream := messagestore.StreamName(fresh("account"), uuid.NewString())

	// Empty stream, expected 0: actual must be -1, and the numbers must not be swapped.
	_, err := s.Write(ctx, stream, 0, messagestore.NewEvent(Deposited{"a", 1}, messagestore.Metadata{}))
	var vc *messagestore.VersionConflictError
	if !errors.As(err, &vc) {
		t.Fatalf("want a VersionConflictError, got %v", err)
	}
	if vc.StreamName != stream || vc.Expected != 0 || vc.Actual != -1 {
		t.Fatalf("conflict %+v", vc)
	}
	if !messagestore.IsTransient(err) {
		t.Error("a version conflict should be retried")
	}
	if _, err := s.Write(ctx, stream, messagestore.AnyVersion, messagestore.NewEvent(Deposited{"a", 1}, messagestore.Metadata{})); err != nil {
		t.Fatal(err)
	}
	// A batch whose expected version is wrong writes none of its messages.
	_, err = s.Write(ctx, stream, 5,
		messagestore.NewEvent(Deposited{"a", 2}, messagestore.Metadata{}), messagestore.NewEvent(Deposited{"a", 3}, messagestore.Metadata{}))
	if !errors.As(err, &vc) || vc.Expected != 5 || vc.Actual != 0 {
		t.Fatalf("conflict %+v err %v", vc, err)
	}
	// A batch that fails half-way (duplicate id) writes none of its messages either.
	id := uuid.NewString()
	_, err = s.Write(ctx, stream, messagestore.AnyVersion,
		messagestore.NewMessage{ID: id, Type: "Deposited", Data: Deposited{"a", 4}},
		messagestore.NewMessage{ID: id, Type: "Deposited", Data: Deposited{"a", 5}})
	if err == nil {
		t.Fatal("duplicate id in a batch must fail")
	}
	v, _ := s.StreamVersion(ctx, stream)
	if v != 0 {
		t.Fatalf("failed batches left messages behind: version %d", v)
	}
}

type account struct {
	balance int
	count   int
}

var accountProjection = messagestore.Projection[account]{
	Init: func() account { return account{} },
	Apply: func(a account, m messagestore.Message) (account, error) {
		if m.Type != "Deposited" {
			return a, nil
		}
		var d Deposited
		if err := m.Decode(&d); err != nil {
			return a, err
		}
		a.balance += d.Amount
		a.count++
		return a, nil
	},
}

func TestFetchPagesThroughLongStreams(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	stream := messagestore.StreamName(fresh("account"), uuid.NewString())
	const n = 2500 // more than two read batches: the book stopped at 1,000
	for written := 0; written < n; written += 500 {
		batch := make([]messagestore.NewMessage, 500)
		for i := range batch {
			batch[i] = messagestore.NewEvent(Deposited{"a", 1}, messagestore.Metadata{})
		}
		if _, err := s.Write(ctx, stream, messagestore.AnyVersion, batch...); err != nil {
			t.Fatal(err)
		}
	}
	a, version, err := messagestore.Fetch(ctx, s, stream, accountProjection)
	if err != nil {
		t.Fatal(err)
	}
	if a.count != n || a.balance != n || version != n-1 {
		t.Fatalf("projected %+v version %d", a, version)
	}
	_, version, err = messagestore.Fetch(ctx, s, messagestore.StreamName(fresh("account"), uuid.NewString()), accountProjection)
	if err != nil || version != -1 {
		t.Fatalf("empty stream version %d err %v", version, err)
	}
}

func TestContractWriterRefusesForeignCategories(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	owned, inbox, other := fresh("own"), fresh("inbox")+":command", fresh("other")
	w := s.WriterFor(messagestore.Contract{Name: "tester", Owns: []string{owned}, SendsTo: []string{inbox}})
	ev := messagestore.NewEvent(Deposited{"a", 1}, messagestore.Metadata{})
	if _, err := w.Write(ctx, messagestore.StreamName(owned, "1"), messagestore.AnyVersion, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, messagestore.StreamName(inbox, "1"), messagestore.AnyVersion, ev); err != nil {
		t.Fatal(err)
	}
	_, err := w.Write(ctx, messagestore.StreamName(other, "1"), messagestore.AnyVersion, ev)
	var ce *messagestore.ContractError
	if !errors.As(err, &ce) || ce.Owner != "tester" {
		t.Fatalf("want ContractError, got %v", err)
	}
	if v, _ := s.StreamVersion(ctx, messagestore.StreamName(other, "1")); v != -1 {
		t.Fatal("refused write reached the store")
	}
}

func TestStreamNames(t *testing.T) {
	cases := []struct{ name, cat, id, card string }{
		{"identity-1", "identity", "1", "1"},
		{"identity:command-1+x", "identity:command", "1+x", "1"},
		{"a-b-c", "a", "b-c", "b-c"},
		{"cat", "cat", "", ""},
	}
	for _, c := range cases {
		if got := messagestore.Category(c.name); got != c.cat {
			t.Errorf("Category(%q) = %q", c.name, got)
		}
		id, _ := messagestore.ID(c.name)
		card, _ := messagestore.CardinalID(c.name)
		if id != c.id || card != c.card {
			t.Errorf("ID/CardinalID(%q) = %q %q", c.name, id, card)
		}
	}
	if !messagestore.IsCategory("cat") || messagestore.IsCategory("cat-1") {
		t.Error("IsCategory")
	}
}
