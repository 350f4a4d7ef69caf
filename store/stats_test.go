package store_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

func TestQueueStatsCountByState(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u, err := db.CreateUser(ctx, store.User{Email: "alice@example.com", PasswordHash: "h", Role: store.RoleCustomer, CustomerGUID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		// Four completions: one left queued after a first attempt, one retried
		// and still queued, one failed after two attempts, one done.
		ids := make([]int64, 4)
		for i := range ids {
			ls := store.LinkSession{ID: fmt.Sprintf("%032d", i+1), UserID: u.ID, CustomerGUID: "c1", Mode: "update", AccountGUID: fmt.Sprintf("a%031d", i)}
			if err := db.CreateLinkSession(ctx, ls); err != nil {
				t.Fatal(err)
			}
			c, err := db.CreateCompletion(ctx, store.Completion{LinkSessionID: ls.ID, CustomerGUID: "c1", Mode: "update", AccountGUID: ls.AccountGUID})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = c.ID
		}
		attempt := func(id int64) {
			t.Helper()
			if ok, err := db.ClaimCompletion(ctx, id, time.Now().Add(-time.Second), false); err != nil || !ok {
				t.Fatalf("claim %d: %v, %v", id, ok, err)
			}
		}
		attempt(ids[0])
		attempt(ids[1])
		attempt(ids[1])
		attempt(ids[2])
		attempt(ids[2])
		if err := db.FailCompletion(ctx, ids[2], "expired"); err != nil {
			t.Fatal(err)
		}
		attempt(ids[3])
		if _, err := db.FinishCompletion(ctx, ids[3], account(fmt.Sprintf("a%031d", 3), "c1", store.StateCompleted)); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			id, err := db.QueueEmail(ctx, store.Email{To: "alice@example.com", Subject: "s", Body: "b"})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if err := db.FailEmail(ctx, id, "refused"); err != nil {
					t.Fatal(err)
				}
			}
		}

		got, err := db.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"queued": 2, "failed": 1, "done": 1}; !maps.Equal(got.Completions, want) {
			t.Errorf("completions by state: got %v, want %v", got.Completions, want)
		}
		if got.CompletionsRetried != 2 {
			t.Errorf("completions retried: got %d, want 2 (the queued one tried twice and the failed one)", got.CompletionsRetried)
		}
		if want := map[string]int{"queued": 2, "failed": 1}; !maps.Equal(got.Outbox, want) {
			t.Errorf("outbox by state: got %v, want %v", got.Outbox, want)
		}
		pools := db.PoolStats()
		// SQLite has one writer; PostgreSQL a pool of writers (db.tx retries conflicts).
		if w := pools["write"].MaxOpenConnections; (db.Engine() == "sqlite" && w != 1) || w < 1 || pools["read"].MaxOpenConnections < 1 {
			t.Errorf("pool stats: got %+v, want the writer pool (one writer on SQLite) and a reader pool", pools)
		}
	})
}
