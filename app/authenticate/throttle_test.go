package authenticate

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestFailureCounterIsBounded(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newFailureCounter(2, time.Minute, 3)
	for i := range 10 {
		f.take(fmt.Sprint("key", i), start.Add(time.Duration(i)*time.Second))
	}
	if n := f.tracked(); n != 3 {
		t.Fatalf("%d keys remembered, want at most 3", n)
	}
	// The newest are kept, the oldest forgotten.
	if _, ok := f.keys["key9"]; !ok {
		t.Error("newest key forgotten")
	}
	if _, ok := f.keys["key0"]; ok {
		t.Error("oldest key kept")
	}
	// Windows that ended are dropped as soon as anything happens.
	f.take("late", start.Add(2*time.Minute))
	if n := f.tracked(); n != 1 {
		t.Fatalf("%d keys after their windows ended, want 1", n)
	}
}

func TestFailureCounterWindow(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f := newFailureCounter(2, 10*time.Minute, 100)
	for i := range 2 {
		if ok, _ := f.take("k", now); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	if ok, wait := f.take("k", now.Add(4*time.Minute)); ok || wait != 6*time.Minute {
		t.Fatalf("third attempt: ok=%v wait=%v", ok, wait)
	}
	f.refund("k")
	if ok, _ := f.take("k", now.Add(5*time.Minute)); !ok {
		t.Fatal("a refunded attempt still counts")
	}
	if ok, _ := f.take("k", now.Add(10*time.Minute)); !ok {
		t.Fatal("the window did not end")
	}
	f.reset("k")
	if f.tracked() != 0 {
		t.Fatal("reset kept the key")
	}
}

func TestLimiterRefundsTheEmailWhenTheIPIsBlocked(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Throttle{MaxFailuresPerEmail: 1, MaxFailuresPerIP: 1}, func() time.Time { return now })
	if ok, _ := l.attempt("a@example.com", "ip"); !ok {
		t.Fatal("first attempt refused")
	}
	if ok, _ := l.attempt("b@example.com", "ip"); ok {
		t.Fatal("IP over its limit")
	}
	// b's email was not charged for the refused attempt.
	if ok, _ := l.attempt("b@example.com", "other-ip"); !ok {
		t.Fatal("email charged for an attempt the IP limit refused")
	}
}

func TestDummyHashCostsLikeARealOne(t *testing.T) {
	cost, err := bcrypt.Cost([]byte(dummyHash))
	if err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("dummy hash cost %d, %v; register-users hashes at %d", cost, err, bcrypt.DefaultCost)
	}
}
