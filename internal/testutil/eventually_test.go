package testutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheCheckPasses(t *testing.T) {
	calls := 0
	Eventually(t, time.Minute, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if calls != 3 {
		t.Fatalf("calls: got %d, want 3", calls)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f) // Fatalf does not return
}

func TestEventuallyFailsWithTheLastErrorAfterTheDeadline(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("recovered %v, want the recorder's Fatalf", r)
			}
		}()
		Eventually(rec, 30*time.Millisecond, func() error { return errors.New(`state: got "pending", want "done"`) })
	}()
	if !strings.Contains(rec.msg, `state: got "pending", want "done"`) {
		t.Fatalf("failure message: got %q, want the last error", rec.msg)
	}
}

func TestPollStopsAtOnceOnStop(t *testing.T) {
	calls := 0
	failed := errors.New("link session failed")
	err := Poll(time.Minute, func() error {
		calls++
		return Stop(failed)
	})
	if !errors.Is(err, failed) || calls != 1 {
		t.Fatalf("got %v after %d calls, want the stopping error after 1", err, calls)
	}
}

func TestPollReturnsTheLastErrorAfterTheDeadline(t *testing.T) {
	last := errors.New("still pending")
	if err := Poll(30*time.Millisecond, func() error { return last }); !errors.Is(err, last) {
		t.Fatalf("got %v, want the last error", err)
	}
}

func TestClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now: got %s, want %s", got, start)
	}
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("after Advance: got %s, want %s", got, start.Add(time.Hour))
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set: got %s, want %s", got, start)
	}
}
