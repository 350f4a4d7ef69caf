package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

// TestRestoreSnapshotPutsEveryTableBack: the demo's reset. Whatever happened
// after the snapshot (new connections, state changes, banners, sessions,
// users) is gone, the per-state counts are right, and cached reads see it.
// SQLite only: the reset copies SQLite files (on PostgreSQL it is off, see
// TestDemoSnapshotIsSQLiteOnly).
func TestRestoreSnapshotPutsEveryTableBack(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	alice, err := db.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "x", Role: store.RoleCustomer, CustomerGUID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpsertAccounts(ctx, []store.Account{account("a1", "alice", store.StateCompleted), account("a2", "alice", store.StateRefreshRequired)}, "sync"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddNotification(ctx, store.Notification{CustomerGUID: "alice", AccountGUID: "a2", Kind: "refresh_required", Message: "seeded"}); err != nil {
		t.Fatal(err)
	}
	seeded := filepath.Join(t.TempDir(), "seed.db")
	if err := db.Snapshot(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	wantCounts, _ := db.StateCounts(ctx)

	// The demo goes on: a connection expires, another is linked, a session starts, a user is added.
	a1 := account("a1", "alice", store.StateRefreshRequired)
	a1.UpdatedAt = a1.UpdatedAt.Add(time.Minute)
	if _, err := db.UpsertAccounts(ctx, []store.Account{a1, account("a3", "alice", store.StateStoring)}, "sync"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddNotification(ctx, store.Notification{CustomerGUID: "alice", AccountGUID: "a1", Kind: "refresh_required", Message: "later"}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "sess-1", alice.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, store.User{Email: "later@example.com", PasswordHash: "x", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}

	// Pages have read the latest state: the read cache holds it.
	if _, err := db.CustomerAccounts(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ActiveNotifications(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.RestoreSnapshot(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	accts, err := db.CustomerAccounts(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range accts {
		got[a.GUID] = a.State
	}
	if len(got) != 2 || got["a1"] != store.StateCompleted || got["a2"] != store.StateRefreshRequired {
		t.Errorf("accounts after the restore: got %v, want a1 completed, a2 refresh_required", got)
	}
	notes, err := db.ActiveNotifications(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].Message != "seeded" {
		t.Errorf("banners after the restore: got %+v, want the seeded one", notes)
	}
	if _, err := db.SessionUser(ctx, "sess-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after the restore: got %v, want not found", err)
	}
	if _, err := db.UserByEmail(ctx, "later@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user added after the snapshot: got %v, want not found", err)
	}
	if u, err := db.UserByEmail(ctx, "alice@example.com"); err != nil || u.ID != alice.ID {
		t.Errorf("alice after the restore: got %+v, %v; want the same id %d", u, err, alice.ID)
	}
	counts, err := db.StateCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range wantCounts {
		if counts[state] != n {
			t.Errorf("count of %s after the restore: got %d, want %d", state, counts[state], n)
		}
	}
	// The restored database keeps working: writes and foreign keys as before.
	if err := db.CreateSession(ctx, "sess-2", alice.ID, time.Hour); err != nil {
		t.Errorf("a session after the restore: %v", err)
	}
	if err := db.RestoreSnapshot(ctx, filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Error("restoring a missing snapshot: got no error")
	}
}
