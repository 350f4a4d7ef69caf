package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

// TestCacheSeesAnotherProcesssWrites: two handles on one file stand for two
// portal processes; a session served from one handle's read cache ends there
// as soon as the other handle revokes it, disables the user or changes the
// password.
func TestCacheSeesAnotherProcesssWrites(t *testing.T) {
	store.EachEnginePair(t, func(t *testing.T, portal, operator *store.DB) {
		ctx := context.Background()
		u, err := portal.CreateUser(ctx, store.User{Email: "c@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: "cust"})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			change func() error
		}{
			{"sessions revoke", func() error { _, err := operator.RevokeUserSessions(ctx, u.ID); return err }},
			{"set password", func() error { return operator.SetPassword(ctx, u.ID, "y") }},
			{"disable", func() error { return operator.SetDisabled(ctx, u.ID, true) }},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := portal.SetDisabled(ctx, u.ID, false); err != nil {
					t.Fatal(err)
				}
				id := "session-" + tc.name
				if err := portal.CreateSession(ctx, id, u.ID, time.Hour); err != nil {
					t.Fatal(err)
				}
				for range 2 { // the second read is served from the cache
					if _, err := portal.SessionUser(ctx, id); err != nil {
						t.Fatalf("live session: %v", err)
					}
				}
				if err := tc.change(); err != nil {
					t.Fatal(err)
				}
				if _, err := portal.SessionUser(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("case %d: session after another process's %s: got %v, want ErrNotFound", i, tc.name, err)
				}
			})
		}
		got, err := portal.UserByEmail(ctx, "c@example.com")
		if err != nil || !got.Disabled {
			t.Fatalf("user after disable: got disabled=%v (%v), want true", got.Disabled, err)
		}
		if err := operator.SetDisabled(ctx, 9999, true); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disable an unknown user: got %v, want ErrNotFound", err)
		}
	})
}

// TestEndedSessionsOutliveThemselvesBriefly: a revoked session's row stays
// for an hour, so a Link result refused with its cookie can still be matched
// to its owner; then the cleanup removes it.
func TestEndedSessionsOutliveThemselvesBriefly(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, store.User{Email: "a@example.com", PasswordHash: "h", Role: store.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateSession(ctx, "s1", u.ID, time.Hour); err != nil {
			t.Fatal(err)
		}
		if n, err := db.RevokeUserSessions(ctx, u.ID); err != nil || n != 1 {
			t.Fatalf("revoke: got %d, %v; want 1", n, err)
		}
		if n, err := db.DeleteExpiredSessions(ctx); err != nil || n != 0 {
			t.Fatalf("cleanup right after the revocation: got %d, %v; want 0", n, err)
		}
		db.SetClock(func() time.Time { return time.Now().Add(61 * time.Minute) })
		if n, err := db.DeleteExpiredSessions(ctx); err != nil || n != 1 {
			t.Fatalf("cleanup an hour later: got %d, %v; want 1", n, err)
		}
	})
}
