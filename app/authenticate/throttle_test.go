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
	if _, ok, _ := l.attempt("a@example.com", "ip"); !ok {
		t.Fatal("first attempt refused")
	}
	if _, ok, _ := l.attempt("b@example.com", "ip"); ok {
		t.Fatal("IP over its limit")
	}
	// b's email was not charged for the refused attempt: the next address is let through on the
	// email's own budget, not as a fresh address.
	if tk, ok, _ := l.attempt("b@example.com", "other-ip"); !ok || tk.fresh {
		t.Fatalf("email charged for an attempt the IP limit refused (ok %v, fresh %v)", ok, tk.fresh)
	}
}

// An email at its limit refuses every address that failed lately, but lets a fresh address (one with
// no failure in its window) try, up to MaxFreshIPFailuresPerEmail failures per window over all of
// them: a stranger cannot lock the owner out with a handful of wrong passwords, and a guesser who
// spreads over many addresses gets no more guesses than the two budgets.
func TestLimiterLetsFreshAddressesTryALockedEmail(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Throttle{MaxFailuresPerEmail: 2, MaxFreshIPFailuresPerEmail: 3, Window: 10 * time.Minute},
		func() time.Time { return now })
	const email = "owner@example.com"
	for range 2 {
		if _, ok, _ := l.attempt(email, "attacker-1"); !ok {
			t.Fatal("attempt within the email's limit refused")
		}
	}
	if _, ok, wait := l.attempt(email, "attacker-1"); ok || wait != 10*time.Minute {
		t.Fatalf("the address that failed: ok %v, wait %v; want refused for the window", ok, wait)
	}
	// Fresh addresses get one failed attempt each, three in all.
	for i := range 3 {
		tk, ok, _ := l.attempt(email, fmt.Sprint("fresh-", i))
		if !ok || !tk.fresh {
			t.Fatalf("fresh address %d: ok %v, fresh %v", i, ok, tk.fresh)
		}
		if _, ok, _ := l.attempt(email, fmt.Sprint("fresh-", i)); ok {
			t.Fatalf("fresh address %d tried twice", i)
		}
	}
	if _, ok, _ := l.attempt(email, "fresh-3"); ok {
		t.Fatal("a fourth fresh address let through past MaxFreshIPFailuresPerEmail")
	}
	// An abandoned fresh attempt gives its place back; a success clears both budgets.
	l.byEmailFresh.refund(email)
	tk, ok, _ := l.attempt(email, "owner-home")
	if !ok || !tk.fresh {
		t.Fatalf("owner's fresh address after a refund: ok %v, fresh %v", ok, tk.fresh)
	}
	l.succeeded(tk)
	if tk, ok, _ := l.attempt(email, "attacker-1"); !ok || tk.fresh {
		t.Fatalf("after the owner's success the email has its budget back: ok %v, fresh %v", ok, tk.fresh)
	}
	// Another address's failure on another email makes it not fresh.
	l2 := newLimiter(Throttle{MaxFailuresPerEmail: 1}, func() time.Time { return now })
	l2.attempt("x@example.com", "ip")
	l2.attempt("y@example.com", "ip")
	if _, ok, _ := l2.attempt("x@example.com", "ip"); ok {
		t.Fatal("an address with failures on other emails counted as fresh")
	}
}

func TestDummyHashCostsLikeARealOne(t *testing.T) {
	cost, err := bcrypt.Cost([]byte(dummyHash))
	if err != nil || cost != bcrypt.DefaultCost {
		t.Fatalf("dummy hash cost %d, %v; register-users hashes at %d", cost, err, bcrypt.DefaultCost)
	}
}
