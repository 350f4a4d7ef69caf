package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bankconnections/portal/store"
)

// A failed query names its operation (so a 500 in the log says which query
// failed) and still is ErrNotFound to errors.Is.
func TestErrorsNameTheOperation(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, err := db.CustomerAccount(ctx, "customer", "no-such-guid")
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing account: got %v, want ErrNotFound", err)
		}
		if got, want := err.Error(), "store: customer account: not found"; got != want {
			t.Errorf("error text: got %q, want %q", got, want)
		}
		if _, err := db.UserByEmail(ctx, "nobody@example.com"); err == nil || err.Error() != "store: user by email: not found" {
			t.Errorf("a missing user: got %v, want store: user by email: not found", err)
		}
	})
}
