// Package testutil holds helpers shared by the tests of several packages. It
// is imported by _test.go files only.
package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, and fails the test when it still
// does not after timeout. A poll with a deadline, never a fixed sleep: the
// shared test machine may be slow, so give generous timeouts.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
