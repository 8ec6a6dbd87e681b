package identity

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"videotutorials/components/identity/identitymsg"
	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

func writeRaw(t *testing.T, s *messagestore.Store, stream, typ, data string, md messagestore.Metadata) {
	t.Helper()
	if _, err := s.Write(ctx, stream, messagestore.AnyVersion,
		messagestore.NewMessage{Type: typ, Data: json.RawMessage(data), Metadata: md}); err != nil {
		t.Fatal(err)
	}
}

// A Registered whose data cannot be decoded (another Message DB client's) in a user's identity stream
// must not make the user unfetchable: every later Register, Registered and reply of that user would
// fail on every attempt and park identity's subscription, and with it everyone's registrations. The
// type still says the user is registered.
func TestAnUndecodableRegisteredDoesNotStopTheUsersMessages(t *testing.T) {
	c, s := newComponent(t)
	userID, email := uuid.NewString(), freshEmail()
	writeRaw(t, s, identitymsg.StreamName(userID), "Registered", `{"userId": 7, "email": ["a"]}`, messagestore.Metadata{})
	if err := c.HandleRegister(ctx, registerCommand(t, s, userID, email)); err != nil {
		t.Fatalf("Register of a user with an undecodable Registered: %v", err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered"}) {
		t.Fatalf("identity stream %v: the user was registered already", got)
	}
	sent := testdb.Write(t, s, sendemailmsg.StreamName(uuid.NewString()), sendemailmsg.Sent{EmailID: uuid.NewString()},
		messagestore.Metadata{OriginStreamName: identitymsg.StreamName(userID)})
	if err := c.HandleSent(ctx, sent); err != nil {
		t.Fatalf("Sent for a user with an undecodable Registered: %v", err)
	}
}

// The email reservation stream decides who owns an address by its first EmailReserved. Messages of
// other types, or an EmailReserved that cannot be read, written there by another client, must not make
// every registration of that address fail until identity's subscription parks: a reservation nobody
// made is made now, after them, and an unreadable one holds the address for someone unknown.
func TestForeignMessagesInAnEmailReservationDoNotStopRegistrations(t *testing.T) {
	c, s := newComponent(t)
	userID, email := uuid.NewString(), freshEmail()
	writeRaw(t, s, EmailReservationStreamName(email), "SomethingElse", `{"x": 1}`, messagestore.Metadata{})
	if err := c.HandleRegister(ctx, registerCommand(t, s, userID, email)); err != nil {
		t.Fatalf("Register of an address whose reservation stream holds a foreign message: %v", err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered"}) {
		t.Fatalf("identity stream %v", got)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, EmailReservationStreamName(email))); !slices.Equal(got, []string{"SomethingElse", "EmailReserved"}) {
		t.Fatalf("reservation stream %v", got)
	}

	other, taken := uuid.NewString(), freshEmail()
	writeRaw(t, s, EmailReservationStreamName(taken), "EmailReserved", `{"userId": 12}`, messagestore.Metadata{})
	if err := c.HandleRegister(ctx, registerCommand(t, s, other, taken)); err != nil {
		t.Fatalf("Register of an address with an unreadable reservation: %v", err)
	}
	msgs := testdb.ReadStream(t, s, identitymsg.StreamName(other))
	if !slices.Equal(testdb.Types(msgs), []string{"RegistrationRejected"}) {
		t.Fatalf("identity stream %v", testdb.Types(msgs))
	}
	var e identitymsg.RegistrationRejected
	if err := msgs[0].Decode(&e); err != nil || e.Reason != ReasonEmailTaken {
		t.Fatalf("rejection %+v, %v", e, err)
	}
}

// A Sent or Failed that names the user (originStreamName) but another email than the user's
// registration email — another Message DB client's reply, or one for another email of the user — says
// nothing about the registration email: it must not be recorded as its outcome, and the real outcome
// must still be.
func TestRepliesAboutAnotherEmailOfTheUserAreSkipped(t *testing.T) {
	c, s := newComponent(t)
	userID, emailID, send := requestEmail(t, c, s)
	for _, data := range []any{sendemailmsg.Sent{EmailID: uuid.NewString()}, sendemailmsg.Failed{EmailID: uuid.NewString(), Reason: "x"}} {
		m := reply(t, s, send, data)
		handle := c.HandleSent
		if _, ok := data.(sendemailmsg.Failed); ok {
			handle = c.HandleFailed
		}
		if err := handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered"}) {
		t.Fatalf("identity stream after replies about other emails: %v", got)
	}
	if err := c.HandleSent(ctx, reply(t, s, send, sendemailmsg.Sent{EmailID: emailID})); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered", "RegistrationEmailSent"}) {
		t.Fatalf("identity stream: %v", got)
	}
}

// A second Registered of one user (another writer's, with another email) changes neither who the
// registration email went to — the first Registered's address, since the Send command's id is fixed
// per user — nor so which reply is its outcome.
func TestASecondRegisteredDoesNotHideTheRegistrationEmailsOutcome(t *testing.T) {
	c, s := newComponent(t)
	userID, emailID, send := requestEmail(t, c, s)
	second := testdb.Write(t, s, identitymsg.StreamName(userID),
		identitymsg.Registered{UserID: userID, Email: freshEmail(), PasswordHash: "h"}, messagestore.Metadata{})
	if err := c.HandleRegistered(ctx, second); err != nil {
		t.Fatal(err)
	}
	if err := c.HandleSent(ctx, reply(t, s, send, sendemailmsg.Sent{EmailID: emailID})); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got,
		[]string{"Registered", "Registered", "RegistrationEmailSent"}) {
		t.Fatalf("identity stream: %v", got)
	}
}
