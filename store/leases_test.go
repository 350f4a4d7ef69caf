package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/pgtest"
)

// eachEngineTwice runs test on both engines with two instances sharing one
// database: two *DB on one SQLite file, or two on one PostgreSQL database.
func eachEngineTwice(t *testing.T, test func(t *testing.T, a, b *DB)) {
	t.Helper()
	for _, engine := range []string{engineSQLite, enginePostgres} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "portal.db")
			open := func() (*DB, error) { return Open(ctx, path) }
			if engine == enginePostgres {
				url := pgtest.URL(t)
				open = func() (*DB, error) { return OpenPostgres(ctx, url) }
			}
			var dbs [2]*DB
			for i := range dbs {
				db, err := open()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			test(t, dbs[0], dbs[1])
		})
	}
}

func TestTakeLeaseOneHolderAtATime(t *testing.T) {
	eachEngineTwice(t, func(t *testing.T, a, b *DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		take := func(db *DB, holder string, until time.Time, want bool) {
			t.Helper()
			got, err := db.TakeLease(ctx, "sync", holder, until)
			if err != nil || got != want {
				t.Fatalf("%s takes the lease: got %v, %v; want %v", holder, got, err, want)
			}
		}
		take(a, "a", now.Add(time.Minute), true)
		take(b, "b", now.Add(time.Minute), false)  // a holds it
		take(a, "a", now.Add(2*time.Minute), true) // a renews it
		b.SetClock(func() time.Time { return now.Add(90 * time.Second) })
		take(b, "b", now.Add(3*time.Minute), false) // still a's (renewed)
		b.SetClock(func() time.Time { return now.Add(2*time.Minute + time.Second) })
		take(b, "b", now.Add(5*time.Minute), true) // a's ran out: b takes it over
		take(a, "a", now.Add(5*time.Minute), false)
		if err := a.ReleaseLease(ctx, "sync", "a"); err != nil { // not a's any more: nothing happens
			t.Fatal(err)
		}
		take(a, "a", now.Add(5*time.Minute), false)
		if err := b.ReleaseLease(ctx, "sync", "b"); err != nil {
			t.Fatal(err)
		}
		take(a, "a", now.Add(5*time.Minute), true)
	})
}

func seedQueuedCompletions(t *testing.T, db *DB, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	u, err := db.CreateUser(ctx, User{Email: "alice@example.com", PasswordHash: "h", Role: RoleCustomer, CustomerGUID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i := range ids {
		ls := LinkSession{ID: fmt.Sprintf("%032d", i+1), UserID: u.ID, CustomerGUID: "c1", Mode: "update", AccountGUID: fmt.Sprintf("a%031d", i)}
		if err := db.CreateLinkSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
		c, err := db.CreateCompletion(ctx, Completion{LinkSessionID: ls.ID, CustomerGUID: "c1", Mode: "update", AccountGUID: ls.AccountGUID})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
	}
	return ids
}

// Claims from two instances at once never take one completion twice, and a
// claimed completion is due again only when its lease has run out.
func TestClaimDueCompletionsEachOnce(t *testing.T) {
	eachEngineTwice(t, func(t *testing.T, a, b *DB) {
		ctx := context.Background()
		ids := seedQueuedCompletions(t, a, 40)
		lease := time.Now().Add(time.Minute)
		var mu sync.Mutex
		claimed := map[int64]int{}
		var wg sync.WaitGroup
		for i := range 6 {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Go(func() {
				for range len(ids) { // bounded: a claim that took nothing off the queue would loop forever
					got, err := db.ClaimDueCompletions(ctx, 5, lease)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					if len(got) > 5 {
						t.Errorf("one claim with limit 5 took %d completions", len(got))
					}
					mu.Lock()
					for _, c := range got {
						claimed[c.ID]++
						if c.Attempts != 0 || c.State != CompletionQueued {
							t.Errorf("completion %d as claimed: attempts %d, state %s; want 0, queued (as before the claim)", c.ID, c.Attempts, c.State)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			if claimed[id] != 1 {
				t.Errorf("completion %d claimed %d times, want 1", id, claimed[id])
			}
		}
		if again, err := b.ClaimDueCompletions(ctx, 100, lease); err != nil || len(again) != 0 {
			t.Fatalf("claim while every lease runs: got %d, %v; want none", len(again), err)
		}
		// The claimer died: once the lease has run out, the other instance takes the work.
		b.SetClock(func() time.Time { return lease.Add(time.Second) })
		again, err := b.ClaimDueCompletions(ctx, 100, lease.Add(time.Minute))
		if err != nil || len(again) != len(ids) {
			t.Fatalf("claim after the leases ran out: got %d, %v; want %d", len(again), err, len(ids))
		}
		if again[0].Attempts != 1 {
			t.Errorf("attempts before the second claim: got %d, want 1", again[0].Attempts)
		}
	})
}

func TestClaimDueEmailsEachOnce(t *testing.T) {
	eachEngineTwice(t, func(t *testing.T, a, b *DB) {
		ctx := context.Background()
		for i := range 12 {
			if _, err := a.QueueEmail(ctx, Email{To: fmt.Sprintf("u%d@example.com", i), Subject: "s", Body: "b"}); err != nil {
				t.Fatal(err)
			}
		}
		lease := time.Now().Add(time.Minute)
		var mu sync.Mutex
		claimed := map[int64]int{}
		var wg sync.WaitGroup
		for _, db := range []*DB{a, b, a, b} {
			wg.Go(func() {
				for range 12 {
					got, err := db.ClaimDueEmails(ctx, 3, lease)
					if err != nil || len(got) == 0 {
						if err != nil {
							t.Error(err)
						}
						return
					}
					if len(got) > 3 {
						t.Errorf("one claim with limit 3 took %d emails", len(got))
					}
					mu.Lock()
					for _, e := range got {
						claimed[e.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != 12 {
			t.Fatalf("emails claimed: got %d, want 12", len(claimed))
		}
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("email %d claimed %d times, want 1", id, n)
			}
		}
		b.SetClock(func() time.Time { return lease.Add(time.Second) })
		if again, err := b.ClaimDueEmails(ctx, 100, lease.Add(time.Minute)); err != nil || len(again) != 12 {
			t.Fatalf("claim after the leases ran out: got %d, %v; want 12", len(again), err)
		}
	})
}

// A running refresh is ended as interrupted only when its instance stopped
// renewing it; a live one on another instance is left alone.
func TestRefreshJobLease(t *testing.T) {
	eachEngineTwice(t, func(t *testing.T, a, b *DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		live, err := a.CreateRefreshJob(ctx, "live", 0, "a", now.Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		dead, err := a.CreateRefreshJob(ctx, "dead", 0, "a", now.Add(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := b.FailInterruptedRefreshJobs(ctx, "stopped"); err != nil || n != 0 {
			t.Fatalf("jobs ended while their leases run: got %d, %v; want 0", n, err)
		}
		if ok, err := a.RenewRefreshJob(ctx, live.ID, "a", now.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("renew by its holder: got %v, %v", ok, err)
		}
		if ok, err := b.RenewRefreshJob(ctx, dead.ID, "b", now.Add(time.Hour)); err != nil || ok {
			t.Fatalf("renew by another instance: got %v, %v; want false", ok, err)
		}
		b.SetClock(func() time.Time { return now.Add(45 * time.Second) })
		if n, err := b.FailInterruptedRefreshJobs(ctx, "stopped"); err != nil || n != 1 {
			t.Fatalf("jobs ended: got %d, %v; want 1 (the one not renewed)", n, err)
		}
		for guid, want := range map[string]string{"live": RefreshRunning, "dead": RefreshFailed} {
			if j, err := b.LatestRefreshJob(ctx, guid); err != nil || j.State != want {
				t.Errorf("%s job: got %q, %v; want %q", guid, j.State, err, want)
			}
		}
		if ok, _ := a.RenewRefreshJob(ctx, dead.ID, "a", now.Add(time.Hour)); ok {
			t.Error("renewed a job another instance ended")
		}
	})
}

func TestLoginFailuresShared(t *testing.T) {
	eachEngineTwice(t, func(t *testing.T, a, b *DB) {
		ctx := context.Background()
		now := time.Now()
		pair := FailureKey{Scope: FailurePair, Key: "alice@example.com\x00192.0.2.1"}
		addr := FailureKey{Scope: FailureAddr, Key: "192.0.2.1"}
		other := FailureKey{Scope: FailureAddr, Key: "192.0.2.2"}
		for i := range 3 {
			db := a
			if i == 1 {
				db = b
			}
			if err := db.AddLoginFailures(ctx, now.Add(time.Duration(i)*time.Second), now.Add(-time.Minute), pair, addr); err != nil {
				t.Fatal(err)
			}
		}
		got, err := b.LoginFailures(ctx, now.Add(-time.Minute), pair, addr, other)
		if err != nil || fmt.Sprint(got) != "[3 3 0]" {
			t.Fatalf("counts seen by the other instance: got %v, %v; want [3 3 0]", got, err)
		}
		// Only failures inside the window count.
		if got, _ := a.LoginFailures(ctx, now.Add(time.Second/2), pair); fmt.Sprint(got) != "[2]" {
			t.Fatalf("counts after the first aged out: got %v, want [2]", got)
		}
		if err := a.ClearLoginFailures(ctx, pair); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.LoginFailures(ctx, now.Add(-time.Minute), pair, addr); fmt.Sprint(got) != "[0 3]" {
			t.Fatalf("after clearing the pair: got %v, want [0 3]", got)
		}
		// Old rows are forgotten when a new failure is recorded.
		if err := b.AddLoginFailures(ctx, now.Add(2*time.Minute), now.Add(time.Minute), other); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.LoginFailures(ctx, now.Add(-time.Hour), addr, other); fmt.Sprint(got) != "[0 1]" {
			t.Fatalf("after forgetting old failures: got %v, want [0 1]", got)
		}
	})
}
