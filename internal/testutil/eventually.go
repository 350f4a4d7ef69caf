// Package testutil holds helpers shared by the tests of several packages. It
// is imported by _test.go files only.
package testutil

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Eventually polls check until it returns nil, and fails the test with the
// last error check returned when that has not happened after timeout. A poll
// with a deadline, never a fixed sleep: the shared test machine (and the race
// detector) can be slow, so give generous timeouts.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	EventuallyEvery(t, timeout, 10*time.Millisecond, check)
}

// EventuallyEvery is Eventually with the pause between checks given, for
// checks that cost something (a browser reload, a page evaluation).
func EventuallyEvery(t testing.TB, timeout, every time.Duration, check func() error) {
	t.Helper()
	if err := poll(timeout, every, check); err != nil {
		t.Fatalf("%v", err)
	}
}

// Poll is Eventually for code that reports errors instead of failing a test
// (a model test's world): it polls check until it returns nil and returns
// nil, or returns check's last error once timeout has passed. An error made
// with Stop ends the poll at once (a state that will not change).
func Poll(timeout time.Duration, check func() error) error {
	return poll(timeout, 10*time.Millisecond, check)
}

func poll(timeout, every time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (still, after %s)", err, timeout)
		}
		time.Sleep(every)
	}
}

// Stop wraps an error that ends a Poll at once.
func Stop(err error) error { return stopError{err} }

type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }
func (s stopError) Unwrap() error { return s.err }
