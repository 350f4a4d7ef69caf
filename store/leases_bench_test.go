package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// go test ./store -run '^$' -bench 'Claim|LoginFailures' (PostgreSQL with PORTAL_TEST_DATABASE_URL)

// BenchmarkClaimDueCompletions: one batch claim of 10 from a queue of 1,000.
func BenchmarkClaimDueCompletions(b *testing.B) {
	for _, engine := range []string{engineSQLite, enginePostgres} {
		b.Run(engine, func(b *testing.B) {
			db := openEngine(b, engine)
			ctx := context.Background()
			u, err := db.CreateUser(ctx, User{Email: "alice@example.com", PasswordHash: "h", Role: RoleCustomer, CustomerGUID: "c1"})
			if err != nil {
				b.Fatal(err)
			}
			for i := range 1000 {
				ls := LinkSession{ID: fmt.Sprintf("%032d", i+1), UserID: u.ID, CustomerGUID: "c1", Mode: "update", AccountGUID: fmt.Sprintf("a%031d", i)}
				if err := db.CreateLinkSession(ctx, ls); err != nil {
					b.Fatal(err)
				}
				if _, err := db.CreateCompletion(ctx, Completion{LinkSessionID: ls.ID, CustomerGUID: "c1", Mode: "update", AccountGUID: ls.AccountGUID}); err != nil {
					b.Fatal(err)
				}
			}
			now := time.Now().UTC()
			b.ResetTimer()
			for i := range b.N {
				// Each round's leases are short: the queue never runs dry.
				at := now.Add(time.Duration(i) * time.Second)
				db.SetClock(func() time.Time { return at })
				got, err := db.ClaimDueCompletions(ctx, 10, at.Add(time.Millisecond))
				if err != nil || len(got) != 10 {
					b.Fatalf("claim: got %d, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkLoginFailures: the throttle's check at sign-in, among 10,000 recent failures.
func BenchmarkLoginFailures(b *testing.B) {
	for _, engine := range []string{engineSQLite, enginePostgres} {
		b.Run(engine, func(b *testing.B) {
			db := openEngine(b, engine)
			ctx := context.Background()
			now := time.Now()
			for i := range 1000 {
				keys := make([]FailureKey, 0, 10)
				for j := range 10 {
					keys = append(keys, FailureKey{Scope: FailureAddr, Key: fmt.Sprintf("10.0.%d.%d", i, j)})
				}
				if err := db.AddLoginFailures(ctx, now, now.Add(-time.Minute), keys...); err != nil {
					b.Fatal(err)
				}
			}
			keys := []FailureKey{{FailurePair, "alice@example.com\x0010.0.1.1"}, {FailureAddr, "10.0.1.1"}, {FailureEmail, "alice@example.com"}}
			b.ResetTimer()
			for range b.N {
				if _, err := db.LoginFailures(ctx, now.Add(-time.Minute), keys...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
