package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

func openDB(t *testing.T) *store.DB {
	t.Helper()
	return openFile(t, filepath.Join(t.TempDir(), "portal.db"))
}

// openFile opens (and migrates) the store at path, closed when the test ends;
// opening one path twice stands for two portal processes on one file.
func openFile(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func account(guid, customer, state string) store.Account {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	return store.Account{GUID: guid, BankGUID: "bank", CustomerGUID: customer, Name: "Plaid Checking", Asset: "USD",
		AccountKind: "plaid", Environment: "sandbox", InstitutionID: "ins_109508", AccountMask: "0000", State: state,
		CreatedAt: now, UpdatedAt: now}
}

// SQLite's file opened twice in turn; on PostgreSQL see TestOpenPostgresTwiceAtOnceMigratesOnce.
func TestMigrationsRunOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	for i := 0; i < 2; i++ {
		db, err := store.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		db.Close()
	}
}

func TestUsers(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, store.User{Email: "Alice@Example.com", PasswordHash: "h", Role: store.RoleCustomer, CustomerGUID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.UserByEmail(ctx, "alice@example.com")
		if err != nil || got.ID != u.ID {
			t.Fatalf("UserByEmail case-insensitive: got %+v, %v; want id %d", got, err, u.ID)
		}
		if _, err := db.CreateUser(ctx, store.User{Email: "ALICE@example.com", PasswordHash: "h", Role: store.RoleCustomer, CustomerGUID: "c2"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate email: got %v, want ErrConflict", err)
		}
		if _, err := db.CreateUser(ctx, store.User{Email: "x@example.com", PasswordHash: "h", Role: store.RoleCustomer}); err == nil {
			t.Fatal("customer without customer guid: got nil error")
		}
		if _, err := db.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown email: got %v, want ErrNotFound", err)
		}
	})
}

func TestSessions(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, store.User{Email: "a@example.com", PasswordHash: "h", Role: store.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateSession(ctx, "s1", u.ID, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateSession(ctx, "s2", u.ID, time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, err := db.SessionUser(ctx, "s1"); err != nil || got.ID != u.ID {
			t.Fatalf("SessionUser: got %v, %v", got.ID, err)
		}
		if err := db.RevokeSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionUser(ctx, "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked session: got %v, want ErrNotFound", err)
		}
		if err := db.SetPassword(ctx, u.ID, "h2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionUser(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session after password change: got %v, want ErrNotFound", err)
		}
		db.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
		if err := db.CreateSession(ctx, "s3", u.ID, time.Hour); err != nil {
			t.Fatal(err)
		}
		db.SetClock(func() time.Time { return time.Now().Add(4 * time.Hour) })
		if _, err := db.SessionUser(ctx, "s3"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired session: got %v, want ErrNotFound", err)
		}
		if n, err := db.DeleteExpiredSessions(ctx); err != nil || n != 3 {
			t.Fatalf("cleanup of ended sessions: got %d, %v; want the 2 revoked and the 1 expired", n, err)
		}
	})
}

func TestUpsertAccountsRecordsTransitionsAndCounts(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := account("a1", "alice", store.StateStoring)
		changes, err := db.UpsertAccounts(ctx, []store.Account{a, account("b1", "bob", store.StateCompleted)}, "sync")
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 2 || changes[0].From != "" || changes[0].To != store.StateStoring {
			t.Fatalf("first upsert: got %+v, want two creations", changes)
		}
		a.InstitutionName = "First Platypus Bank"
		if _, err := db.UpsertAccounts(ctx, []store.Account{a}, "sync"); err != nil {
			t.Fatal(err)
		}
		a.State, a.InstitutionName = store.StateRefreshRequired, ""
		a.UpdatedAt = a.UpdatedAt.Add(time.Minute)
		changes, err = db.UpsertAccounts(ctx, []store.Account{a}, "sync")
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].From != store.StateStoring || changes[0].To != store.StateRefreshRequired || changes[0].CustomerGUID != "alice" {
			t.Fatalf("transition: got %+v", changes)
		}
		got, err := db.Account(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if got.InstitutionName != "First Platypus Bank" {
			t.Errorf("institution name: got %q, want it kept when the platform has none", got.InstitutionName)
		}
		// Saving the same data again records nothing new.
		if changes, _ := db.UpsertAccounts(ctx, []store.Account{a}, "sync"); len(changes) != 0 {
			t.Errorf("unchanged upsert: got %+v, want no transitions", changes)
		}
		counts, err := db.StateCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{store.StateRefreshRequired: 1, store.StateCompleted: 1, store.StateStoring: 0}
		for s, n := range want {
			if counts[s] != n {
				t.Errorf("count %s: got %d, want %d", s, counts[s], n)
			}
		}
		hist, err := db.StateChanges(ctx, "a1")
		if err != nil || len(hist) != 2 || hist[1].To != store.StateRefreshRequired {
			t.Fatalf("history: got %+v, %v", hist, err)
		}
	})
}

func TestCustomerAccountsAreScopedAndOrdered(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, err := db.UpsertAccounts(ctx, []store.Account{
			account("a-ok", "alice", store.StateCompleted),
			account("a-gone", "alice", store.StateDeleted),
			account("a-expired", "alice", store.StateRefreshRequired),
			account("a-failed", "alice", store.StateFailed),
			account("b-ok", "bob", store.StateCompleted),
		}, "seed")
		if err != nil {
			t.Fatal(err)
		}
		guids := func() []string {
			t.Helper()
			list, err := db.CustomerAccounts(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range list {
				got = append(got, a.GUID)
			}
			return got
		}
		// A disconnected connection stays listed (last) until its customer hides it.
		if got, want := strings.Join(guids(), " "), "a-expired a-failed a-ok a-gone"; got != want {
			t.Fatalf("alice's list: got %s, want %s (attention first, disconnected last)", got, want)
		}
		for _, bad := range []struct{ customer, guid string }{{"bob", "a-gone"}, {"", "a-gone"}, {"alice", "a-ok"}, {"alice", "b-ok"}} {
			if err := db.HideAccount(ctx, bad.customer, bad.guid); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("hide %s as %q: got %v, want ErrNotFound", bad.guid, bad.customer, err)
			}
		}
		if err := db.HideAccount(ctx, "alice", "a-gone"); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(guids(), " "), "a-expired a-failed a-ok"; got != want {
			t.Fatalf("alice's list after hiding: got %s, want %s", got, want)
		}
		if _, err := db.CustomerAccount(ctx, "bob", "a-ok"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob reading alice's account: got %v, want ErrNotFound", err)
		}
		if _, err := db.CustomerAccount(ctx, "", "b-ok"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no customer: got %v, want ErrNotFound", err)
		}
	})
}

func TestNotificationsOnlyDismissedByOwner(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		id, err := db.AddNotification(ctx, store.Notification{CustomerGUID: "alice", Kind: "refresh_required", Message: "reconnect"})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.DismissNotification(ctx, "bob", id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob dismissing alice's banner: got %v, want ErrNotFound", err)
		}
		if ns, _ := db.ActiveNotifications(ctx, "alice"); len(ns) != 1 {
			t.Fatalf("active: got %d, want 1", len(ns))
		}
		if err := db.DismissNotification(ctx, "alice", id); err != nil {
			t.Fatal(err)
		}
		if ns, _ := db.ActiveNotifications(ctx, "alice"); len(ns) != 0 {
			t.Fatalf("after dismiss: got %d, want 0", len(ns))
		}
	})
}

func TestJobStatusKeepsLastSuccess(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.RecordJob(ctx, "sync", ""); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordJob(ctx, "sync", "platform down"); err != nil {
			t.Fatal(err)
		}
		j, err := db.Job(ctx, "sync")
		if err != nil {
			t.Fatal(err)
		}
		if j.LastOKAt == nil || j.LastError != "platform down" {
			t.Fatalf("job: got %+v, want last ok kept and the error recorded", j)
		}
	})
}

func TestAnOlderCopyNeverReplacesANewerOne(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		stale := account("a1", "alice", store.StateRefreshRequired)
		if _, err := db.UpsertAccounts(ctx, []store.Account{stale}, "sync"); err != nil {
			t.Fatal(err)
		}
		fresh := stale
		fresh.State, fresh.UpdatedAt = store.StateCompleted, stale.UpdatedAt.Add(time.Second)
		if _, err := db.UpsertAccounts(ctx, []store.Account{fresh}, "link"); err != nil {
			t.Fatal(err)
		}
		// A sync page read before the reconnect finished arrives afterwards.
		changes, err := db.UpsertAccounts(ctx, []store.Account{stale}, "sync")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Account(ctx, "a1"); got.State != store.StateCompleted || len(changes) != 0 {
			t.Fatalf("after an older copy: got %s and %+v, want completed and no transition", got.State, changes)
		}
	})
}

func TestAccountsSavedDuringAWalkAreNotMissing(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.UpsertAccounts(ctx, []store.Account{account("old", "alice", store.StateCompleted)}, "sync"); err != nil {
			t.Fatal(err)
		}
		walkStart := time.Now().Add(time.Millisecond)
		db.SetClock(func() time.Time { return walkStart.Add(time.Second) })
		if _, err := db.UpsertAccounts(ctx, []store.Account{account("new", "alice", store.StateStoring)}, "link"); err != nil {
			t.Fatal(err)
		}
		gone, err := db.AccountGUIDsNotIn(ctx, map[string]bool{}, walkStart)
		if err != nil {
			t.Fatal(err)
		}
		if len(gone) != 1 || gone[0] != "old" {
			t.Fatalf("missing from the walk: got %v, want only the account saved before it", gone)
		}
	})
}

// A banner holds only while its connection is in its reason state: it goes
// when the connection leaves that state, whoever recorded the change, and does
// not come back when the connection returns to it.
func TestBannersHoldOnlyWhileTheirReasonHolds(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := account("a-1", "alice", store.StateRefreshRequired)
		if _, err := db.UpsertAccounts(ctx, []store.Account{a, account("a-2", "alice", store.StateRefreshRequired)}, "sync"); err != nil {
			t.Fatal(err)
		}
		add := func(guid, kind, reason string) {
			t.Helper()
			if _, err := db.AddNotification(ctx, store.Notification{CustomerGUID: "alice", AccountGUID: guid, Kind: kind, Message: kind, ReasonState: reason}); err != nil {
				t.Fatal(err)
			}
		}
		add("a-1", "refresh_required", store.StateRefreshRequired)
		add("a-1", "reminder", store.StateRefreshRequired)
		add("a-2", "reminder", store.StateRefreshRequired)
		add("", "completion_failed", "") // no connection: until dismissed
		kinds := func() string {
			t.Helper()
			ns, err := db.ActiveNotifications(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, n := range ns {
				out = append(out, n.AccountGUID+":"+n.Kind)
			}
			return strings.Join(out, " ")
		}
		if got, want := kinds(), ":completion_failed a-2:reminder a-1:reminder a-1:refresh_required"; got != want {
			t.Fatalf("banners: got %q, want %q", got, want)
		}
		// Reconnected (a newer copy from the platform): a-1's banners go, a-2's stay.
		a.State, a.UpdatedAt = store.StateCompleted, a.UpdatedAt.Add(time.Minute)
		if _, err := db.UpsertAccounts(ctx, []store.Account{a}, "link"); err != nil {
			t.Fatal(err)
		}
		if got, want := kinds(), ":completion_failed a-2:reminder"; got != want {
			t.Fatalf("after a-1 was reconnected: got %q, want %q", got, want)
		}
		// Expired again: the old banners do not come back.
		a.State, a.UpdatedAt = store.StateRefreshRequired, a.UpdatedAt.Add(time.Minute)
		if _, err := db.UpsertAccounts(ctx, []store.Account{a}, "sync"); err != nil {
			t.Fatal(err)
		}
		if got, want := kinds(), ":completion_failed a-2:reminder"; got != want {
			t.Fatalf("after a-1 expired again: got %q, want %q (old banners stay gone)", got, want)
		}
		// Disconnected (the platform no longer lists it): a-2's reminder goes too.
		if _, err := db.MarkAccountsDeleted(ctx, []string{"a-2"}, "sync"); err != nil {
			t.Fatal(err)
		}
		if got, want := kinds(), ":completion_failed"; got != want {
			t.Fatalf("after a-2 was disconnected: got %q, want %q", got, want)
		}
	})
}

// One call may carry an account twice (a later copy after an earlier one):
// both are saved in order, each transition recorded once.
func TestUpsertAccountsTakesAnAccountTwiceInOrder(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first, later := account("a1", "c1", store.StateStoring), account("a1", "c1", store.StateCompleted)
		later.UpdatedAt = later.UpdatedAt.Add(time.Minute)
		changes, err := db.UpsertAccounts(ctx, []store.Account{first, account("a2", "c1", store.StateFailed), later}, "sync")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.AccountGUID+":"+c.From+">"+c.To)
		}
		if want := []string{"a1:>storing", "a2:>failed", "a1:storing>completed"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("transitions: got %v, want %v", got, want)
		}
		counts, err := db.StateCounts(ctx)
		if err != nil || counts[store.StateCompleted] != 1 || counts[store.StateStoring] != 0 || counts[store.StateFailed] != 1 {
			t.Errorf("counts: got %v, %v; want completed 1, failed 1, storing 0", counts, err)
		}
	})
}

// A page of many accounts that change in different ways at once (as a sync
// page does): each change is logged once in its account's history, and each
// account's banners go only when that account leaves their reason state.
func TestSyncPageLogsEachChangeAndDismissesOnlyOutdatedBanners(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		guids := []string{"p-ok", "p-failed", "p-same", "p-deleting"}
		var page []store.Account
		for _, g := range guids {
			page = append(page, account(g, "alice", store.StateRefreshRequired))
		}
		if _, err := db.UpsertAccounts(ctx, page, "sync"); err != nil {
			t.Fatal(err)
		}
		for _, g := range guids {
			if _, err := db.AddNotification(ctx, store.Notification{CustomerGUID: "alice", AccountGUID: g, Kind: "refresh_required", Message: "m", ReasonState: store.StateRefreshRequired}); err != nil {
				t.Fatal(err)
			}
		}
		next := []string{store.StateCompleted, store.StateFailed, store.StateRefreshRequired, store.StateDeleting}
		for i := range page {
			page[i].State, page[i].UpdatedAt = next[i], page[i].UpdatedAt.Add(time.Minute)
		}
		changes, err := db.UpsertAccounts(ctx, page, "sync")
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 3 {
			t.Errorf("transitions: got %+v, want 3 (p-same did not change)", changes)
		}
		ns, err := db.ActiveNotifications(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 1 || ns[0].AccountGUID != "p-same" {
			t.Errorf("banners left: got %+v, want only p-same's", ns)
		}
		// Expired again, all of them: the banners that went stay gone.
		back := append([]store.Account(nil), page...)
		for i := range back {
			back[i].State, back[i].UpdatedAt = store.StateRefreshRequired, back[i].UpdatedAt.Add(time.Minute)
		}
		if _, err := db.UpsertAccounts(ctx, back, "sync"); err != nil {
			t.Fatal(err)
		}
		if ns, err = db.ActiveNotifications(ctx, "alice"); err != nil || len(ns) != 1 || ns[0].AccountGUID != "p-same" {
			t.Errorf("banners after expiring again: got %+v, %v; want only p-same's", ns, err)
		}
		for i, g := range guids {
			hist, err := db.StateChanges(ctx, g)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hist {
				got = append(got, h.From+">"+h.To+"/"+h.Source)
			}
			want := []string{">refresh_required/sync"}
			if next[i] != store.StateRefreshRequired {
				want = append(want, "refresh_required>"+next[i]+"/sync", next[i]+">refresh_required/sync")
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("history of %s: got %v, want %v", g, got, want)
			}
		}
	})
}
