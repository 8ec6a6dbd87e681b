package identity

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/components/identity/identitymsg"
	"videotutorials/components/sendemail/sendemailmsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

var ctx = context.Background()

func TestContract(t *testing.T) {
	if err := Contract.Validate(); err != nil {
		t.Fatal(err)
	}
	c, _ := newComponent(t)
	subs := c.Subscriptions()
	if len(subs) != len(Contract.Subscribes) {
		t.Fatalf("%d subscriptions, contract lists %d", len(subs), len(Contract.Subscribes))
	}
	want := map[string]string{
		"components:identity:command":         "identity:command",
		"components:identity":                 "identity",
		"components:identity:sendEmailEvents": "sendEmail",
	}
	for i, sc := range Contract.Subscribes {
		cfg := subs[i]
		if want[sc.SubscriberID] != sc.Category || cfg.SubscriberID != sc.SubscriberID || cfg.Category != sc.Category ||
			cfg.OriginCategory != sc.OriginCategory {
			t.Errorf("subscription %d: contract %+v, config %s on %s (origin %q)", i, sc, cfg.SubscriberID, cfg.Category, cfg.OriginCategory)
		}
		var handled []string
		for typ := range cfg.Handlers {
			handled = append(handled, typ)
		}
		slices.Sort(handled)
		if !slices.Equal(handled, slices.Sorted(slices.Values(sc.Types))) {
			t.Errorf("%s handles %v, contract says %v", sc.SubscriberID, handled, sc.Types)
		}
	}
	if subs[2].OriginCategory != "identity" {
		t.Errorf("send-email replies are not filtered by origin")
	}
}

func registerCommand(t *testing.T, s *messagestore.Store, userID, email string) messagestore.Message {
	t.Helper()
	return testdb.Write(t, s, identitymsg.CommandStreamName(userID),
		identitymsg.Register{UserID: userID, Email: email, PasswordHash: "$2a$10$hash-of-" + userID[:8]},
		messagestore.Metadata{TraceID: uuid.NewString(), UserID: userID})
}

func TestRegisterRegistersOnceAndReservesTheEmail(t *testing.T) {
	c, s := newComponent(t)
	userID := uuid.NewString()
	email := freshEmail()
	cmd := registerCommand(t, s, userID, "  "+strings.ToUpper(email)+" ")

	for range 2 { // the second time must change nothing
		if err := c.HandleRegister(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	msgs := testdb.ReadStream(t, s, identitymsg.StreamName(userID))
	if !slices.Equal(testdb.Types(msgs), []string{"Registered"}) {
		t.Fatalf("identity stream: %v", testdb.Types(msgs))
	}
	var e identitymsg.Registered
	if err := msgs[0].Decode(&e); err != nil {
		t.Fatal(err)
	}
	if e.UserID != userID || e.Email != email || e.PasswordHash != "$2a$10$hash-of-"+userID[:8] {
		t.Errorf("Registered %+v: want the normalised email %s", e, email)
	}
	md := msgs[0].Metadata
	if md.TraceID != cmd.Metadata.TraceID || md.UserID != userID || md.CausationMessageID != cmd.ID {
		t.Errorf("metadata does not follow from the command: %+v", md)
	}
	res := testdb.ReadStream(t, s, EmailReservationStreamName(email))
	if !slices.Equal(testdb.Types(res), []string{"EmailReserved"}) {
		t.Fatalf("reservation stream: %v", testdb.Types(res))
	}
	if res[0].StreamName != EmailReservationStreamName(strings.ToUpper(email)) {
		t.Errorf("reservation stream depends on the spelling of the email")
	}
}

func TestRegisterRejectsAnEmailOfAnotherUser(t *testing.T) {
	c, s := newComponent(t)
	email := freshEmail()
	first, second := uuid.NewString(), uuid.NewString()
	if err := c.HandleRegister(ctx, registerCommand(t, s, first, email)); err != nil {
		t.Fatal(err)
	}
	cmd := registerCommand(t, s, second, strings.ToUpper(email))
	for range 2 {
		if err := c.HandleRegister(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	msgs := testdb.ReadStream(t, s, identitymsg.StreamName(second))
	if !slices.Equal(testdb.Types(msgs), []string{"RegistrationRejected"}) {
		t.Fatalf("second user's stream: %v", testdb.Types(msgs))
	}
	var e identitymsg.RegistrationRejected
	if err := msgs[0].Decode(&e); err != nil {
		t.Fatal(err)
	}
	if e.UserID != second || e.Email != email || e.Reason != "email already registered" {
		t.Errorf("RegistrationRejected %+v", e)
	}
	if n := len(testdb.ReadStream(t, s, EmailReservationStreamName(email))); n != 1 {
		t.Errorf("reservation stream has %d messages", n)
	}
}

// One address typed with a composed accent (é, U+00E9) and with a decomposed one (e, U+0301) is one
// address: the second registration is rejected like any other registration of a taken email.
func TestRegisterTreatsComposedAndDecomposedAccentsAsOneEmail(t *testing.T) {
	c, s := newComponent(t)
	local := "ren" + uuid.NewString()[:8]
	composed, decomposed := local+"\u00e9@example.com", local+"e\u0301@example.com"
	first, second := uuid.NewString(), uuid.NewString()
	if err := c.HandleRegister(ctx, registerCommand(t, s, first, composed)); err != nil {
		t.Fatal(err)
	}
	if err := c.HandleRegister(ctx, registerCommand(t, s, second, decomposed)); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(second))); !slices.Equal(got, []string{"RegistrationRejected"}) {
		t.Fatalf("second registration, decomposed form: %v, want RegistrationRejected", got)
	}
	if EmailReservationStreamName(composed) != EmailReservationStreamName(decomposed) {
		t.Error("the two forms have different reservation streams")
	}
}

func TestRegisterRejectsAnInvalidCommand(t *testing.T) {
	c, s := newComponent(t)
	for _, tc := range []struct{ email, hash, reason string }{
		{"not an email", "$2a$10$x", ReasonInvalidEmail},
		{"Someone <" + freshEmail() + ">", "$2a$10$x", ReasonInvalidEmail},
		{freshEmail(), "", ReasonMissingPassword},
		// Longer than RFC 5321 allows (the form refuses it; other writers of the inbox may not): the
		// views keep emails in unique indexes, which refuse a value this long, so registering it would
		// stop the user-credentials and admin-users aggregators for good.
		{strings.Repeat("x", 300) + "@example.com", "$2a$10$x", ReasonInvalidEmail},
		// Invisible characters and odd spaces, which the register form refuses too: such an address
		// looks like another one (an admin's) wherever it is shown.
		{"ad\u200bmin-" + freshEmail(), "$2a$10$x", ReasonInvalidEmail},
		{"\u202e" + freshEmail(), "$2a$10$x", ReasonInvalidEmail},
		{"a\u00a0b-" + freshEmail(), "$2a$10$x", ReasonInvalidEmail},
		{"a\u2028b-" + freshEmail(), "$2a$10$x", ReasonInvalidEmail},
	} {
		userID := uuid.NewString()
		cmd := testdb.Write(t, s, identitymsg.CommandStreamName(userID),
			identitymsg.Register{UserID: userID, Email: tc.email, PasswordHash: tc.hash}, messagestore.Metadata{})
		if err := c.HandleRegister(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		msgs := testdb.ReadStream(t, s, identitymsg.StreamName(userID))
		var e identitymsg.RegistrationRejected
		if len(msgs) != 1 || msgs[0].Decode(&e) != nil || e.Reason != tc.reason {
			t.Errorf("%q: %v %+v, want rejection %q", tc.email, testdb.Types(msgs), e, tc.reason)
		}
	}
	// Without a user id there is no stream to answer in: skipped, not retried forever.
	bad := testdb.Write(t, s, identitymsg.CommandStreamName(uuid.NewString()),
		identitymsg.Register{UserID: "nobody", Email: freshEmail(), PasswordHash: "x"}, messagestore.Metadata{})
	if err := c.HandleRegister(ctx, bad); err != nil {
		t.Fatalf("a command without a user id: %v", err)
	}
}

func TestRegisterGoesOnWithItsOwnReservation(t *testing.T) {
	// A crash between reserving the email and writing Registered leaves the reservation behind; the
	// retry must register the user, not reject them for their own reservation.
	c, s := newComponent(t)
	userID, email := uuid.NewString(), freshEmail()
	testdb.Write(t, s, EmailReservationStreamName(email), identitymsg.EmailReserved{UserID: userID, Email: email}, messagestore.Metadata{})
	if err := c.HandleRegister(ctx, registerCommand(t, s, userID, email)); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered"}) {
		t.Fatalf("identity stream: %v", got)
	}
	if n := len(testdb.ReadStream(t, s, EmailReservationStreamName(email))); n != 1 {
		t.Errorf("reservation stream has %d messages", n)
	}
}

// outcome counts the decisions written for a set of users.
func outcome(t *testing.T, s *messagestore.Store, users ...string) (registered, rejected []string) {
	t.Helper()
	for _, u := range users {
		msgs := testdb.ReadStream(t, s, identitymsg.StreamName(u))
		if len(msgs) != 1 {
			t.Errorf("user %s has %d decisions: %v", u, len(msgs), testdb.Types(msgs))
		}
		for _, m := range msgs {
			switch m.Type {
			case "Registered":
				registered = append(registered, u)
			case "RegistrationRejected":
				rejected = append(rejected, u)
			}
		}
	}
	return registered, rejected
}

func TestSimultaneousRegistrationsOfOneEmail(t *testing.T) {
	// Two processes (two stores, two pools) handle two users' Register commands for one email at the
	// same instant, several times over: every time exactly one user gets the email.
	a, sa := newComponent(t)
	b, _ := newComponent(t)
	for round := range 8 {
		email := freshEmail()
		u1, u2 := uuid.NewString(), uuid.NewString()
		c1, c2 := registerCommand(t, sa, u1, email), registerCommand(t, sa, u2, email)
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, h := range []struct {
			c *Component
			m messagestore.Message
		}{{a, c1}, {b, c2}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = h.c.HandleRegister(ctx, h.m)
			}()
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v", round, errs)
		}
		registered, rejected := outcome(t, sa, u1, u2)
		if len(registered) != 1 || len(rejected) != 1 {
			t.Fatalf("round %d: registered %v, rejected %v", round, registered, rejected)
		}
		res := testdb.ReadStream(t, sa, EmailReservationStreamName(email))
		var r identitymsg.EmailReserved
		if len(res) != 1 || res[0].Decode(&r) != nil || r.UserID != registered[0] {
			t.Fatalf("round %d: reservation %v owned by %q, registered %v", round, testdb.Types(res), r.UserID, registered)
		}
	}
}

func TestSimultaneousRegistrationsThroughTwoSubscriptions(t *testing.T) {
	// Two running subscriptions (as two processes would run without a lease) both handle both users'
	// commands: still one decision per user, one Registered and one RegistrationRejected.
	email := freshEmail()
	u1, u2 := uuid.NewString(), uuid.NewString()
	mine := func(m messagestore.Message) bool {
		return m.StreamName == identitymsg.CommandStreamName(u1) || m.StreamName == identitymsg.CommandStreamName(u2)
	}
	var subs []*messagestore.Subscription
	var s *messagestore.Store
	for range 2 {
		c, cs := newComponent(t)
		s = cs
		subs = append(subs, testdb.RunAtHead(t, cs, c.Subscriptions()[0], mine))
	}
	testdb.Write(t, s, identitymsg.CommandStreamName(u1), identitymsg.Register{UserID: u1, Email: email, PasswordHash: "h1"}, messagestore.Metadata{})
	last := testdb.Write(t, s, identitymsg.CommandStreamName(u2), identitymsg.Register{UserID: u2, Email: email, PasswordHash: "h2"}, messagestore.Metadata{})
	for _, sub := range subs {
		testdb.Eventually(t, 10*time.Second, "both subscriptions past the commands", func() bool {
			return sub.Status().Position >= last.GlobalPosition
		})
	}
	registered, rejected := outcome(t, s, u1, u2)
	if len(registered) != 1 || len(rejected) != 1 {
		t.Fatalf("registered %v, rejected %v", registered, rejected)
	}
}

// registered registers a user and returns the Registered event as stored.
func registered(t *testing.T, c *Component, s *messagestore.Store) (userID, email string, ev messagestore.Message) {
	t.Helper()
	userID, email = uuid.NewString(), freshEmail()
	if err := c.HandleRegister(ctx, registerCommand(t, s, userID, email)); err != nil {
		t.Fatal(err)
	}
	msgs := testdb.ReadStream(t, s, identitymsg.StreamName(userID))
	if len(msgs) != 1 || msgs[0].Type != "Registered" {
		t.Fatalf("not registered: %v", testdb.Types(msgs))
	}
	return userID, email, msgs[0]
}

func TestRegisteredSendsTheRegistrationEmailOnce(t *testing.T) {
	c, s := newComponent(t)
	userID, email, ev := registered(t, c, s)
	for range 3 { // handled again before Sent came back: the store refuses the duplicate command
		if err := c.HandleRegistered(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	emailID := sendemailmsg.EmailID(email)
	if emailID != uuid.NewSHA1(uuid.MustParse("0c46e0b7-dfaf-443a-b150-053b67905cc2"), []byte(email)).String() {
		t.Fatalf("email id %s is not the book's", emailID)
	}
	cmds := testdb.ReadStream(t, s, sendemailmsg.CommandStreamName(emailID))
	if !slices.Equal(testdb.Types(cmds), []string{"Send"}) {
		t.Fatalf("send-email inbox: %v", testdb.Types(cmds))
	}
	var send sendemailmsg.Send
	if err := cmds[0].Decode(&send); err != nil {
		t.Fatal(err)
	}
	if send.EmailID != emailID || send.To != email || send.Subject == "" {
		t.Errorf("Send %+v", send)
	}
	for _, part := range []string{send.Text, send.HTML} {
		if !strings.Contains(part, email) || !strings.Contains(part, baseURL+"/") {
			t.Errorf("the email neither greets %s nor links to %s/:\n%s", email, baseURL, part)
		}
	}
	if !strings.Contains(send.HTML, `<a href="`+baseURL+`/">`) {
		t.Errorf("HTML part without a link: %s", send.HTML)
	}
	md := cmds[0].Metadata
	if md.OriginStreamName != "identity-"+userID || md.CorrelationStreamName != "identity-"+userID ||
		md.TraceID != ev.Metadata.TraceID || md.CausationMessageID != ev.ID {
		t.Errorf("Send metadata %+v", md)
	}
}

func TestRegistrationEmailTextIsNotHTMLEscaped(t *testing.T) {
	c, _ := newComponent(t)
	send, err := c.registrationEmail(identitymsg.Registered{UserID: uuid.NewString(), Email: "o'brien&co@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(send.Text, "o'brien&co@example.com") || !strings.Contains(send.HTML, "o&#39;brien&amp;co@example.com") {
		t.Errorf("text:\n%s\nhtml:\n%s", send.Text, send.HTML)
	}
}

// reply writes what send-email writes after a Send: Sent or Failed in sendEmail-<emailId>, with
// metadata that follows from the command (so originStreamName and correlationStreamName come back).
func reply(t *testing.T, s *messagestore.Store, send messagestore.Message, data any) messagestore.Message {
	t.Helper()
	var cmd sendemailmsg.Send
	if err := send.Decode(&cmd); err != nil {
		t.Fatal(err)
	}
	return testdb.Write(t, s, sendemailmsg.StreamName(cmd.EmailID), data, send.FollowedFrom())
}

func requestEmail(t *testing.T, c *Component, s *messagestore.Store) (userID, emailID string, send messagestore.Message) {
	t.Helper()
	userID, email, ev := registered(t, c, s)
	if err := c.HandleRegistered(ctx, ev); err != nil {
		t.Fatal(err)
	}
	emailID = sendemailmsg.EmailID(email)
	cmds := testdb.ReadStream(t, s, sendemailmsg.CommandStreamName(emailID))
	if len(cmds) != 1 {
		t.Fatalf("%d Send commands", len(cmds))
	}
	return userID, emailID, cmds[0]
}

func TestSentRecordsRegistrationEmailSentOnce(t *testing.T) {
	c, s := newComponent(t)
	userID, emailID, send := requestEmail(t, c, s)
	sent := reply(t, s, send, sendemailmsg.Sent{EmailID: emailID, To: "x", From: "y"})
	for range 2 { // delivered twice
		if err := c.HandleSent(ctx, sent); err != nil {
			t.Fatal(err)
		}
	}
	msgs := testdb.ReadStream(t, s, identitymsg.StreamName(userID))
	if !slices.Equal(testdb.Types(msgs), []string{"Registered", "RegistrationEmailSent"}) {
		t.Fatalf("identity stream: %v", testdb.Types(msgs))
	}
	var e identitymsg.RegistrationEmailSent
	if err := msgs[1].Decode(&e); err != nil || e.UserID != userID || e.EmailID != emailID {
		t.Errorf("RegistrationEmailSent %+v (%v)", e, err)
	}
	if msgs[1].Metadata.CausationMessageID != sent.ID || msgs[1].Metadata.TraceID != send.Metadata.TraceID {
		t.Errorf("metadata %+v", msgs[1].Metadata)
	}
	// Once sent, Registered handled again asks for nothing more, and a late Failed is ignored.
	if err := c.HandleRegistered(ctx, msgs[0]); err != nil {
		t.Fatal(err)
	}
	failed := reply(t, s, send, sendemailmsg.Failed{EmailID: emailID, Reason: "late"})
	if err := c.HandleFailed(ctx, failed); err != nil {
		t.Fatal(err)
	}
	if n := len(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); n != 2 {
		t.Errorf("identity stream grew to %d messages", n)
	}
}

func TestFailedRecordsRegistrationEmailFailedOnce(t *testing.T) {
	c, s := newComponent(t)
	userID, emailID, send := requestEmail(t, c, s)
	failed := reply(t, s, send, sendemailmsg.Failed{EmailID: emailID, Reason: "550 no such mailbox"})
	for range 2 {
		if err := c.HandleFailed(ctx, failed); err != nil {
			t.Fatal(err)
		}
	}
	msgs := testdb.ReadStream(t, s, identitymsg.StreamName(userID))
	if !slices.Equal(testdb.Types(msgs), []string{"Registered", "RegistrationEmailFailed"}) {
		t.Fatalf("identity stream: %v", testdb.Types(msgs))
	}
	var e identitymsg.RegistrationEmailFailed
	if err := msgs[1].Decode(&e); err != nil || e.UserID != userID || e.EmailID != emailID || e.Reason != "550 no such mailbox" {
		t.Errorf("RegistrationEmailFailed %+v (%v)", e, err)
	}
	// A later success (an admin's retry) is still recorded.
	sent := reply(t, s, send, sendemailmsg.Sent{EmailID: emailID})
	if err := c.HandleSent(ctx, sent); err != nil {
		t.Fatal(err)
	}
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered", "RegistrationEmailFailed", "RegistrationEmailSent"}) {
		t.Errorf("identity stream: %v", got)
	}
}

func TestRepliesNotForARegisteredUserAreSkipped(t *testing.T) {
	c, s := newComponent(t)
	stranger := uuid.NewString()
	for _, origin := range []string{"identity-" + stranger, "somethingElse-" + uuid.NewString(), ""} {
		m := testdb.Write(t, s, sendemailmsg.StreamName(uuid.NewString()), sendemailmsg.Sent{EmailID: uuid.NewString()},
			messagestore.Metadata{OriginStreamName: origin})
		if err := c.HandleSent(ctx, m); err != nil {
			t.Fatalf("origin %q: %v", origin, err)
		}
	}
	if n := len(testdb.ReadStream(t, s, identitymsg.StreamName(stranger))); n != 0 {
		t.Errorf("wrote %d messages for a user who never registered", n)
	}
}

func TestRegistrationThroughSubscriptions(t *testing.T) {
	// Register → Registered → Send, then send-email's Sent → RegistrationEmailSent, with identity's
	// three subscriptions running as main runs them.
	c, s := newComponent(t)
	userID, email := uuid.NewString(), freshEmail()
	emailID := sendemailmsg.EmailID(email)
	mine := func(m messagestore.Message) bool {
		return strings.HasSuffix(m.StreamName, userID) || m.Metadata.OriginStreamName == identitymsg.StreamName(userID)
	}
	for _, cfg := range c.Subscriptions() {
		testdb.RunAtHead(t, s, cfg, mine)
	}
	registerCommand(t, s, userID, email)
	var send []messagestore.Message
	testdb.Eventually(t, 10*time.Second, "the Send command", func() bool {
		send = testdb.ReadStream(t, s, sendemailmsg.CommandStreamName(emailID))
		return len(send) == 1
	})
	reply(t, s, send[0], sendemailmsg.Sent{EmailID: emailID, To: email})
	testdb.Eventually(t, 10*time.Second, "RegistrationEmailSent", func() bool {
		return len(testdb.ReadStream(t, s, identitymsg.StreamName(userID))) == 2
	})
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show up
	if got := testdb.Types(testdb.ReadStream(t, s, identitymsg.StreamName(userID))); !slices.Equal(got, []string{"Registered", "RegistrationEmailSent"}) {
		t.Fatalf("identity stream: %v", got)
	}
	if n := len(testdb.ReadStream(t, s, sendemailmsg.CommandStreamName(emailID))); n != 1 {
		t.Errorf("%d Send commands", n)
	}
}

func TestWritesStayInsideTheContract(t *testing.T) {
	c, _ := newComponent(t)
	_, err := c.writer.Write(ctx, "viewing-"+uuid.NewString(), messagestore.AnyVersion, messagestore.NewEvent(identitymsg.Registered{}, messagestore.Metadata{}))
	var ce *messagestore.ContractError
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("identity wrote outside its contract: %v", err)
	}
}
