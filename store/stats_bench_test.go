package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// What a Prometheus scrape costs the store, with 100,000 completions and
// 20,000 emails of history (most done or sent):
//
//	go test -run '^$' -bench QueueStats -benchmem ./store
func BenchmarkQueueStats(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "portal.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	u, err := db.CreateUser(ctx, User{Email: "bench@example.com", PasswordHash: "x", Role: RoleCustomer, CustomerGUID: benchCustomer})
	if err != nil {
		b.Fatal(err)
	}
	now := formatTime(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC))
	err = db.tx(ctx, func(tx *sql.Tx) error {
		for i := range 100_000 {
			id := fmt.Sprintf("%032x", i)
			state, attempts := "done", 1+i%3
			switch i % 100 {
			case 0:
				state = "queued"
			case 1:
				state = "failed"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO link_sessions (id, user_id, customer_guid, mode, state, created_at, updated_at)
				VALUES (?, ?, ?, 'update', 'completed', ?, ?)`, id, u.ID, benchCustomer, now, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO completions (link_session_id, customer_guid, mode, state, attempts, next_attempt_at, created_at, updated_at)
				VALUES (?, ?, 'update', ?, ?, ?, ?, ?)`, id, benchCustomer, state, attempts, now, now, now); err != nil {
				return err
			}
		}
		for i := range 20_000 {
			state := "sent"
			if i%50 == 0 {
				state = "queued"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (to_addr, subject, body, state, next_attempt_at, created_at)
				VALUES ('a@example.com', 's', 'b', ?, ?, ?)`, state, now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := db.QueueStats(ctx)
		if err != nil || s.Completions["queued"] != 1000 {
			b.Fatalf("QueueStats: %+v, %v", s, err)
		}
	}
}
