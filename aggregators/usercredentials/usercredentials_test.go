package usercredentials

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/app/authenticate/authenticationmsg"
	"videotutorials/components/identity/identitymsg"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
	"videotutorials/viewdata"
)

var ctx = context.Background()

func newAggregator() *Aggregator { return New(Deps{DB: testdb.Pool(), Logger: testdb.Quiet}) }

func freshEmail() string { return "user-" + uuid.NewString()[:13] + "@example.com" }

// registration returns a Registered event at a global position.
func registration(userID, email string, gp int64) messagestore.Message {
	data, _ := json.Marshal(identitymsg.Registered{UserID: userID, Email: email, PasswordHash: "$2a$10$" + userID[:8]})
	return messagestore.Message{ID: uuid.NewString(), StreamName: identitymsg.StreamName(userID), Type: "Registered",
		GlobalPosition: gp, Data: data}
}

// rows returns the rows of the given emails and user ids, as "id email hash position", sorted.
func rows(t *testing.T, emails []string, ids []string) []string {
	t.Helper()
	q, err := testdb.Pool().Query(ctx, `SELECT id::text || ' ' || email || ' ' || password_hash || ' ' || position FROM user_credentials
		WHERE email = ANY($1) OR id::text = ANY($2) ORDER BY 1`, emails, ids)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var out []string
	for q.Next() {
		var s string
		if err := q.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := q.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// forget deletes this test's rows (and only those), so that the next application starts afresh.
func forget(t *testing.T, emails, ids []string) {
	t.Helper()
	if _, err := testdb.Pool().Exec(ctx, `DELETE FROM user_credentials WHERE email = ANY($1) OR id::text = ANY($2)`, emails, ids); err != nil {
		t.Fatal(err)
	}
}

func apply(t *testing.T, a *Aggregator, batches ...[]messagestore.Message) {
	t.Helper()
	for _, b := range batches {
		if err := a.HandleRegistrations(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestContract(t *testing.T) {
	if err := Contract.Validate(); err != nil {
		t.Fatal(err)
	}
	subs := newAggregator().Subscriptions()
	if len(subs) != 2 || subs[0].SubscriberID != "aggregators:user-credentials" || subs[0].Category != "identity" ||
		subs[0].HandleBatch == nil || !slices.Equal(subs[0].BatchTypes, []string{"Registered", "RegistrationRejected"}) ||
		Contract.Subscribes[0].SubscriberID != subs[0].SubscriberID {
		t.Fatalf("subscriptions %+v", subs)
	}
	if subs[1].SubscriberID != "aggregators:user-credentials:log-outs" || subs[1].Category != "authentication" ||
		subs[1].HandleBatch == nil || !slices.Equal(subs[1].BatchTypes, []string{"UserLoggedOut"}) ||
		Contract.Subscribes[1].SubscriberID != subs[1].SubscriberID {
		t.Fatalf("log-out subscription %+v", subs[1])
	}
}

// logOut returns a UserLoggedOut event at a global position.
func logOut(userID, ref string, gp int64) messagestore.Message {
	data, _ := json.Marshal(authenticationmsg.UserLoggedOut{UserID: userID, SessionRef: ref})
	return messagestore.Message{ID: uuid.NewString(), StreamName: authenticationmsg.StreamName(userID), Type: "UserLoggedOut",
		GlobalPosition: gp, Data: data}
}

// A log-out is kept only as long as its session could still be used: one older than KeepLogOuts is not
// recorded, and a recorded one is deleted once it grows that old. The test's clock is 60 days in the
// past, so the prune touches no other test's rows.
func TestLogOutsExpireAfterTheSessionLimit(t *testing.T) {
	const keep = 30 * 24 * time.Hour
	clock := time.Now().Add(-60 * 24 * time.Hour)
	a := New(Deps{DB: testdb.Pool(), Logger: testdb.Quiet, KeepLogOuts: keep})
	a.now = func() time.Time { return clock }
	user, recent, expired := uuid.NewString(), uuid.NewString(), uuid.NewString()
	r, e := logOut(user, recent, 20), logOut(user, expired, 21)
	r.Time, e.Time = clock.Add(-time.Hour), clock.Add(-keep-time.Hour)
	for _, batch := range [][]messagestore.Message{nil, {r, e}} { // the first call prunes: none in the second
		if err := a.HandleLogOuts(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	loggedOut := func(ref string) bool {
		t.Helper()
		out, err := viewdata.SessionLoggedOut(ctx, testdb.Pool(), ref)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !loggedOut(recent) || loggedOut(expired) {
		t.Fatalf("recent log-out recorded: %v (want true); expired one: %v (want false)", loggedOut(recent), loggedOut(expired))
	}
	clock = clock.Add(keep) // the recent log-out is now an hour past the limit
	if err := a.HandleLogOuts(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if loggedOut(recent) {
		t.Fatal("a log-out older than KeepLogOuts was not deleted")
	}
}

// Log-outs are recorded by their session's ref, once however often they are applied; events that name
// no session are skipped without stopping the aggregator.
func TestLogOutsAppliedTwiceAreRecordedOnce(t *testing.T) {
	a := newAggregator()
	user, ref, other := uuid.NewString(), uuid.NewString(), uuid.NewString()
	batch := []messagestore.Message{
		logOut(user, ref, 10),
		logOut(user, "", 11),                 // no session: skipped
		logOut("not-a-uuid", other, 12),      // no user: skipped
		registration(user, freshEmail(), 13), // another type: not this handler's
	}
	for range 2 {
		if err := a.HandleLogOuts(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := testdb.Pool().QueryRow(ctx, `SELECT count(*) FROM logged_out_sessions WHERE session_ref = ANY($1)`,
		[]string{ref, other, ""}).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want 1", n, err)
	}
	for r, want := range map[string]bool{ref: true, other: false, uuid.NewString(): false} {
		if out, err := viewdata.SessionLoggedOut(ctx, testdb.Pool(), r); err != nil || out != want {
			t.Errorf("SessionLoggedOut(%s) = %v, %v; want %v", r, out, err, want)
		}
	}
}

// An address registered with a composed accent is found when typed with a decomposed one (and the
// other way round): log-in and "email taken" look it up in the one normal form.
func TestCredentialsAreFoundWhateverTheAccentsForm(t *testing.T) {
	a := newAggregator()
	id, local := uuid.NewString(), "zo"+uuid.NewString()[:8]
	composed, decomposed := local+"\u00eb@example.com", local+"e\u0308@example.com"
	apply(t, a, []messagestore.Message{registration(id, decomposed, 100)})
	for _, typed := range []string{composed, decomposed} {
		c, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), typed)
		if err != nil || c.ID != id {
			t.Errorf("CredentialsByEmail(%+q) = %+v, %v; want user %s", typed, c, err, id)
		}
		if taken, err := viewdata.EmailTaken(ctx, testdb.Pool(), typed); err != nil || !taken {
			t.Errorf("EmailTaken(%+q) = %v, %v", typed, taken, err)
		}
	}
}

// A rejected registration is recorded once, however often applied, so that the registration-complete
// page can say so; a registered one and an unknown one are told apart from it.
func TestRegistrationOutcomes(t *testing.T) {
	a := newAggregator()
	winner, loser, unknown := uuid.NewString(), uuid.NewString(), uuid.NewString()
	email := freshEmail()
	data, _ := json.Marshal(identitymsg.RegistrationRejected{UserID: loser, Email: email, Reason: "email already registered"})
	rejection := messagestore.Message{ID: uuid.NewString(), StreamName: identitymsg.StreamName(loser), Type: "RegistrationRejected",
		GlobalPosition: 201, Data: data}
	apply(t, a, []messagestore.Message{registration(winner, email, 200), rejection}, []messagestore.Message{rejection})
	for id, want := range map[string]viewdata.RegistrationOutcome{
		winner:  {Registered: true},
		loser:   {Rejected: true, Reason: "email already registered"},
		unknown: {},
	} {
		got, err := viewdata.RegistrationOutcomeOf(ctx, testdb.Pool(), id)
		if err != nil || got != want {
			t.Errorf("RegistrationOutcomeOf(%s) = %+v, %v; want %+v", id, got, err, want)
		}
	}
	var n int
	if err := testdb.Pool().QueryRow(ctx, `SELECT count(*) FROM registration_rejections WHERE user_id = $1`, loser).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rejection rows (%v), want 1", n, err)
	}
}

func TestRegisteredAppliedTwiceMakesOneRow(t *testing.T) {
	a := newAggregator()
	id, email := uuid.NewString(), freshEmail()
	m := registration(id, "  "+strings.ToUpper(email), 100)
	apply(t, a, []messagestore.Message{m}, []messagestore.Message{m})
	if got := rows(t, []string{email}, []string{id}); !slices.Equal(got, []string{id + " " + email + " $2a$10$" + id[:8] + " 100"}) {
		t.Fatalf("rows %v", got)
	}

	byEmail, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), strings.ToUpper(email)+" ")
	want := viewdata.UserCredentials{ID: id, Email: email, PasswordHash: "$2a$10$" + id[:8]}
	if err != nil || byEmail != want {
		t.Errorf("CredentialsByEmail %+v %v", byEmail, err)
	}
	byID, err := viewdata.CredentialsByID(ctx, testdb.Pool(), id)
	if err != nil || byID != want {
		t.Errorf("CredentialsByID %+v %v", byID, err)
	}
	if taken, err := viewdata.EmailTaken(ctx, testdb.Pool(), strings.ToUpper(email)); err != nil || !taken {
		t.Errorf("EmailTaken %v %v", taken, err)
	}
}

func TestMissingCredentials(t *testing.T) {
	if _, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), freshEmail()); !errors.Is(err, viewdata.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if _, err := viewdata.CredentialsByID(ctx, testdb.Pool(), id); !errors.Is(err, viewdata.ErrNotFound) {
			t.Errorf("id %q: %v", id, err)
		}
	}
	if taken, err := viewdata.EmailTaken(ctx, testdb.Pool(), freshEmail()); err != nil || taken {
		t.Errorf("EmailTaken %v %v", taken, err)
	}
}

func TestAnyOrderGivesTheSameTable(t *testing.T) {
	// Three users, one of whom (late) claims an email another already has: whatever the order and the
	// cutting into batches, the table is the one a rebuild in position order produces.
	a := newAggregator()
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	emails := []string{freshEmail(), freshEmail()}
	first := registration(ids[0], emails[0], 200)
	second := registration(ids[1], emails[1], 210)
	late := registration(ids[2], emails[0], 220) // the email of the first user
	orders := [][][]messagestore.Message{
		{{first, second, late}},         // a rebuild from position 0
		{{late, second, first}},         // reversed, one batch
		{{late}, {second}, {first}},     // reversed, batch by batch
		{{second, late}, {first, late}}, // replays mixed in
	}
	var want []string
	for i, order := range orders {
		forget(t, emails, ids)
		apply(t, a, order...)
		got := rows(t, emails, ids)
		if i == 0 {
			want = got
			if len(want) != 2 || !strings.HasPrefix(want[0], ids[0]) && !strings.HasPrefix(want[1], ids[0]) {
				t.Fatalf("rebuild: %v", want)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("order %d: %v, want %v", i, got, want)
		}
	}
	forget(t, emails, ids)
}

func TestDuplicateEmailDoesNotStopTheAggregator(t *testing.T) {
	a := newAggregator()
	owner, intruder, next := uuid.NewString(), uuid.NewString(), uuid.NewString()
	email, other := freshEmail(), freshEmail()
	apply(t, a, []messagestore.Message{
		registration(owner, email, 300),
		registration(intruder, strings.ToUpper(email), 310), // never happens with identity; must not stop us
		registration(next, other, 320),                      // later events in the same batch still count
	})
	c, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), email)
	if err != nil || c.ID != owner {
		t.Errorf("%s belongs to %+v (%v), want %s", email, c, err, owner)
	}
	if _, err := viewdata.CredentialsByID(ctx, testdb.Pool(), intruder); !errors.Is(err, viewdata.ErrNotFound) {
		t.Errorf("the second claim got a row: %v", err)
	}
	if c, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), other); err != nil || c.ID != next {
		t.Errorf("%s: %+v %v", other, c, err)
	}
}

func TestUnusableEventsAreSkipped(t *testing.T) {
	a := newAggregator()
	good, email := uuid.NewString(), freshEmail()
	apply(t, a, []messagestore.Message{
		{ID: uuid.NewString(), StreamName: "identity-x", Type: "Registered", GlobalPosition: 400, Data: json.RawMessage(`{"userId": "not-a-uuid", "email": "a@b.c"}`)},
		{ID: uuid.NewString(), StreamName: "identity-y", Type: "Registered", GlobalPosition: 401, Data: json.RawMessage(`[1, 2]`)},
		{ID: uuid.NewString(), StreamName: "identity-z", Type: "Registered", GlobalPosition: 402},
		registration(good, email, 403),
	})
	if c, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), email); err != nil || c.ID != good {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestSubscriptionAppliesRegistrations(t *testing.T) {
	pool := testdb.Pool()
	s := messagestore.New(pool, messagestore.Options{Logger: testdb.Quiet})
	cfg := newAggregator().Subscriptions()[0]
	testdb.StartAtHead(t, s, &cfg) // a fresh subscriber id, so a shared database's history is not replayed
	cfg.Logger, cfg.MinPollInterval, cfg.MaxPollInterval = testdb.Quiet, 10*time.Millisecond, 50*time.Millisecond
	testdb.RunSubscription(t, s, cfg)

	id, email := uuid.NewString(), freshEmail()
	if _, err := s.Write(ctx, identitymsg.StreamName(id), messagestore.AnyVersion, messagestore.NewEvent(
		identitymsg.Registered{UserID: id, Email: email, PasswordHash: "h"}, messagestore.Metadata{})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := viewdata.CredentialsByID(ctx, testdb.Pool(), id)
		if err == nil && c.Email == email {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no credentials for %s: %v", id, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// randomText is n bytes of text that does not compress: PostgreSQL compresses long index entries, so
// repeated letters would fit where another client's real text does not.
func randomText(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return strings.ToLower(base64.RawURLEncoding.EncodeToString(b)[:n])
}

// Events in the store may hold text too long for the view's unique indexes (PostgreSQL refuses an
// entry over 2704 bytes): a Registered with an email of kilobytes (identity registered any length
// before it checked), a UserLoggedOut with a session ref of kilobytes (any Message DB client may
// write one). Neither can become a row anybody could use — log-in looks up emails of at most 254
// bytes, a session ref is 32 hex digits — and neither may stop the aggregator: its failure would
// only park it, and nobody registered after it could log in.
func TestTextTooLongForTheIndexesIsSkipped(t *testing.T) {
	a := newAggregator()
	longUser, good, email := uuid.NewString(), uuid.NewString(), freshEmail()
	longEmail := randomText(t, 3000) + "@example.com"
	apply(t, a, []messagestore.Message{
		registration(longUser, longEmail, 500),
		registration(good, email, 501),
	})
	if c, err := viewdata.CredentialsByEmail(ctx, testdb.Pool(), email); err != nil || c.ID != good {
		t.Errorf("the registration beside it: %+v %v", c, err)
	}
	if _, err := viewdata.CredentialsByID(ctx, testdb.Pool(), longUser); !errors.Is(err, viewdata.ErrNotFound) {
		t.Errorf("an email of %d bytes got a row: %v", len(longEmail), err)
	}

	user, ref := uuid.NewString(), uuid.NewString()
	if err := a.HandleLogOuts(ctx, []messagestore.Message{logOut(user, randomText(t, 3000), 502), logOut(user, ref, 503)}); err != nil {
		t.Fatalf("a session ref of 3000 bytes: %v", err)
	}
	if out, err := viewdata.SessionLoggedOut(ctx, testdb.Pool(), ref); err != nil || !out {
		t.Errorf("the log-out beside it: %v %v", out, err)
	}
}
