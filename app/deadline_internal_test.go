package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

// requestDeadline is a context.Context of its own making; these check that it keeps the context
// contract wherever the standard library and pgx use it: Done and Err agree, derived contexts and
// AfterFunc hooks hear of the deadline and of the parent's cancellation, and nothing fires after a
// lift.
func TestRequestDeadlineKeepsTheContextContract(t *testing.T) {
	wait := func(t *testing.T, ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not done", what)
		}
	}

	t.Run("the deadline cancels derived contexts and hooks", func(t *testing.T) {
		var rd requestDeadline
		rd.start(context.Background(), 30*time.Millisecond)
		child, cancel := context.WithCancel(&rd)
		defer cancel()
		hooked := make(chan struct{})
		context.AfterFunc(&rd, func() { close(hooked) })
		wait(t, child.Done(), "derived context")
		wait(t, hooked, "AfterFunc hook")
		wait(t, rd.Done(), "the request context")
		if !errors.Is(rd.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) || !rd.passed() {
			t.Fatalf("Err %v, child Err %v, passed %v", rd.Err(), child.Err(), rd.passed())
		}
	})

	t.Run("the parent's cancellation is passed on, and is not the deadline", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		var rd requestDeadline
		rd.start(parent, time.Hour)
		if rd.Err() != nil {
			t.Fatal("Err before anything happened")
		}
		done := rd.Done()
		cancelParent()
		wait(t, done, "after the parent's cancellation")
		if !errors.Is(rd.Err(), context.Canceled) || rd.passed() {
			t.Fatalf("Err %v, passed %v", rd.Err(), rd.passed())
		}
		// Without anyone waiting, Err still reports the parent's cancellation.
		parent2, cancel2 := context.WithCancel(context.Background())
		var lazy requestDeadline
		lazy.start(parent2, time.Hour)
		cancel2()
		if !errors.Is(lazy.Err(), context.Canceled) {
			t.Fatalf("unwatched Err %v", lazy.Err())
		}
		wait(t, lazy.Done(), "Done after Err")
	})

	t.Run("a lifted deadline never fires; a stopped hook never runs", func(t *testing.T) {
		var rd requestDeadline
		rd.start(context.Background(), 20*time.Millisecond)
		ran := make(chan struct{}, 1)
		stop := context.AfterFunc(&rd, func() { ran <- struct{}{} })
		rd.lift()
		time.Sleep(80 * time.Millisecond)
		if rd.Err() != nil || rd.passed() {
			t.Fatalf("lifted deadline fired: %v", rd.Err())
		}
		if !stop() {
			t.Fatal("stop of a hook that had not run reported false")
		}
		rd.release()
		if !errors.Is(rd.Err(), context.Canceled) || rd.passed() {
			t.Fatalf("after release: Err %v, passed %v", rd.Err(), rd.passed())
		}
		select {
		case <-ran:
			t.Fatal("a stopped hook ran")
		case <-time.After(50 * time.Millisecond):
		}
	})

	t.Run("extend moves the deadline", func(t *testing.T) {
		var rd requestDeadline
		rd.start(context.Background(), 20*time.Millisecond)
		done := rd.Done()
		rd.extend(time.Hour)
		select {
		case <-done:
			t.Fatal("an extended deadline fired at its first time")
		case <-time.After(80 * time.Millisecond):
		}
		rd.release()
		wait(t, done, "after release")
	})
}
