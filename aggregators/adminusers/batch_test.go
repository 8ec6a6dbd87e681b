package adminusers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminusers"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

type fullRow struct {
	Email                string
	Registered, LastLog  *time.Time
	Sent                 bool
	Failed               *string
	Logins, IdPos, AuPos int64
}

func getFull(t *testing.T, id string) fullRow {
	t.Helper()
	var r fullRow
	if err := testdb.Pool().QueryRow(context.Background(), `SELECT email, registered_at, last_login_at,
		registration_email_sent, registration_email_failed_reason, login_count, identity_position,
		authentication_position FROM admin_users WHERE id = $1`, id).
		Scan(&r.Email, &r.Registered, &r.LastLog, &r.Sent, &r.Failed, &r.Logins, &r.IdPos, &r.AuPos); err != nil {
		t.Fatal(err)
	}
	return r
}

func show(r fullRow) string {
	failed := "<nil>"
	if r.Failed != nil {
		failed = fmt.Sprintf("%q", *r.Failed)
	}
	r.Failed = nil
	return fmt.Sprintf("%+v failed=%s", r, failed)
}

// userEvents are one user's events at fixed global positions (rows are per user, so two users may
// share positions): identity 10..14, logins 5, 7, 20, 21.
func userEvents(id string) (identity, logins []messagestore.Message) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(stream, typ string, gp int64, email, reason string) messagestore.Message {
		m := msg(stream, typ, gp, fmt.Sprintf(`{"userId": %q, "email": %q, "reason": %q}`, id, email, reason))
		m.Time = at.Add(time.Duration(gp) * time.Minute)
		return m
	}
	identity = []messagestore.Message{
		ev("identity-"+id, "Registered", 10, "a@example.com", ""),
		ev("identity-"+id, "RegistrationEmailFailed", 11, "", "boom"),
		ev("identity-"+id, "RegistrationEmailSent", 12, "", ""),
		ev("identity-"+id, "RegistrationEmailFailed", 13, "", "again"),
		ev("identity-"+id, "Registered", 14, "b@example.com", ""),
	}
	for _, gp := range []int64{5, 7, 20, 21} {
		logins = append(logins, ev("authentication-"+id, "UserLoggedIn", gp, "", ""))
	}
	return identity, logins
}

// Batches of several users that overlap batches applied before, replay them, or hold a user's
// events out of order leave every row as applying the events one by one does, after each step.
func TestOverlappingBatchesAsOneByOne(t *testing.T) {
	ctx := context.Background()
	agg := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	ref := []string{uuid.NewString(), uuid.NewString()} // one message at a time
	bat := []string{uuid.NewString(), uuid.NewString()} // in batches of both users
	var refI, refL, batI, batL [2][]messagestore.Message
	for u := range 2 {
		refI[u], refL[u] = userEvents(ref[u])
		batI[u], batL[u] = userEvents(bat[u])
	}
	pick := func(evs [2][]messagestore.Message, idx ...int) []messagestore.Message {
		var b []messagestore.Message
		for _, i := range idx {
			b = append(b, evs[0][i], evs[1][i])
		}
		return b
	}
	steps := []struct {
		name string
		idx  []int
		logs bool
	}{
		{"identity 10-12", []int{0, 1, 2}, false},
		{"identity 11-13, overlapping", []int{1, 2, 3}, false},
		{"identity 14, 12, 13 out of order", []int{4, 2, 3}, false},
		{"identity replay of all", []int{0, 1, 2, 3, 4}, false},
		{"logins 5, 7", []int{0, 1}, true},
		{"logins 7, 20, overlapping", []int{1, 2}, true},
		{"logins 21, 5, 20 out of order", []int{3, 0, 2}, true},
		{"logins replay of all", []int{0, 1, 2, 3}, true},
	}
	for _, s := range steps {
		ri, bi := refI, batI
		if s.logs {
			ri, bi = refL, batL
		}
		for _, m := range pick(ri, s.idx...) {
			if err := agg.HandleMessages(ctx, []messagestore.Message{m}); err != nil {
				t.Fatal(err)
			}
		}
		if err := agg.HandleMessages(ctx, pick(bi, s.idx...)); err != nil {
			t.Fatal(err)
		}
		for u := range 2 {
			want, got := getFull(t, ref[u]), getFull(t, bat[u])
			if show(want) != show(got) {
				t.Fatalf("%s: user %d batched %s, one by one %s", s.name, u, show(got), show(want))
			}
		}
	}
	got := getFull(t, bat[0])
	if got.Email != "b@example.com" || !got.Sent || got.Failed == nil || *got.Failed != "again" || got.Logins != 4 ||
		got.IdPos != 14 || got.AuPos != 21 {
		t.Fatalf("final row %+v", got)
	}
}
