// Package testutil holds helpers shared by the tests of several packages. It
// is imported by _test.go files only.
package testutil

import (
	"testing"
	"time"
)

// Eventually polls check until it returns nil, and fails the test with the
// last error check returned when that has not happened after timeout. A poll
// with a deadline, never a fixed sleep: the shared test machine (and the race
// detector) can be slow, so give generous timeouts.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v (still, after %s)", err, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
