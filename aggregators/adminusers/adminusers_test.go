package adminusers_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"videotutorials/aggregators/adminusers"
	"videotutorials/internal/testdb"
	"videotutorials/messagestore"
)

func msg(stream, typ string, gpos int64, data string) messagestore.Message {
	return messagestore.Message{ID: uuid.NewString(), StreamName: stream, Type: typ, GlobalPosition: gpos,
		Data: []byte(data), Time: time.Now().UTC()}
}

type row struct {
	Email   string
	Sent    bool
	Failed  *string
	Logins  int64
	HasLast bool
}

func get(t *testing.T, id string) row {
	t.Helper()
	var r row
	var last *time.Time
	if err := testdb.Pool().QueryRow(context.Background(), `SELECT coalesce(email, ''), registration_email_sent,
		registration_email_failed_reason, login_count, last_login_at FROM admin_users WHERE id = $1`, id).
		Scan(&r.Email, &r.Sent, &r.Failed, &r.Logins, &last); err != nil {
		t.Fatal(err)
	}
	r.HasLast = last != nil
	return r
}

// Events of two categories in any order, each applied twice, give the same row as once in order.
func TestAppliedTwiceAndAcrossCategoriesChangesNothing(t *testing.T) {
	ctx := context.Background()
	agg := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	id := uuid.NewString()
	d := fmt.Sprintf(`{"userId": %q, "email": "a@example.com", "passwordHash": "$2a$10$x", "emailId": "e", "reason": "boom"}`, id)
	reg := msg("identity-"+id, "Registered", 10, d)
	fail := msg("identity-"+id, "RegistrationEmailFailed", 11, d)
	sent := msg("identity-"+id, "RegistrationEmailSent", 12, d)
	l1 := msg("authentication-"+id, "UserLoggedIn", 5, d)
	l2 := msg("authentication-"+id, "UserLoggedIn", 20, d)
	for _, b := range [][]messagestore.Message{{l1}, {reg, fail}, {l1, l2}, {reg}, {fail}, {l2}} {
		if err := agg.HandleMessages(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, id); got.Email != "a@example.com" || got.Sent || got.Failed == nil || *got.Failed != "boom" || got.Logins != 2 || !got.HasLast {
		t.Fatalf("after failure: %+v", got)
	}
	for range 2 {
		if err := agg.HandleMessages(ctx, []messagestore.Message{sent, fail, reg}); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, id); !got.Sent || got.Failed != nil || got.Logins != 2 {
		t.Fatalf("after sent: %+v", got)
	}
}

// A Registered with an email of kilobytes (identity registered any length before it checked; another
// writer may still write one) must not stop the aggregator: admin_users indexes (email, id), and
// PostgreSQL refuses an entry over 2704 bytes. The user is listed, with the start of the email.
func TestAnEmailTooLongToIndexIsCut(t *testing.T) {
	ctx := context.Background()
	agg := adminusers.New(adminusers.Deps{DB: testdb.Pool(), Logger: testdb.Quiet})
	b := make([]byte, 3000)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	email := base64.RawURLEncoding.EncodeToString(b) + "@example.com"
	id := uuid.NewString()
	d := fmt.Sprintf(`{"userId": %q, "email": %q, "passwordHash": "$2a$10$x"}`, id, email)
	if err := agg.HandleMessages(ctx, []messagestore.Message{msg("identity-"+id, "Registered", 30, d)}); err != nil {
		t.Fatalf("an email of %d bytes: %v", len(email), err)
	}
	if got := get(t, id); got.Email == "" || !strings.HasPrefix(email, got.Email) {
		t.Errorf("listed email %.20q…, want the start of %.20q…", got.Email, email)
	}
}
