package testutil

import (
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	Eventually(t, time.Minute, "third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Fatalf("calls: got %d, want 3", calls)
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f) // Fatalf does not return
}

func TestEventuallyFailsAfterTheDeadline(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("recovered %v, want the recorder's Fatalf", r)
			}
		}()
		Eventually(rec, 30*time.Millisecond, "never", func() bool { return false })
	}()
	if rec.failed == "" {
		t.Fatal("Eventually returned although the condition never held")
	}
}
