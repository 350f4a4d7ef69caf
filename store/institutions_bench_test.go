package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkInstitutions measures the admin filter's institution list and the
// sync's unnamed-institution scan over 50,000 connections at 50 institutions,
// half of them with no name anywhere. The list is cached until the next write; "uncached"
// forces a read every time.
func BenchmarkInstitutions(b *testing.B) {
	ctx := context.Background()
	db := openAdminDB(b)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]Account, 0, 1000)
	for i := 0; i < 50_000; i++ {
		name := ""
		if i%2 == 0 {
			name = fmt.Sprintf("Bank %d", i%50)
		}
		batch = append(batch, Account{GUID: fmt.Sprintf("%032x", i+1), BankGUID: "bank", Name: "Checking", Asset: "USD", AccountKind: "plaid",
			Environment: "production", InstitutionID: fmt.Sprintf("ins_%d", i%50), InstitutionName: name, AccountMask: "0000",
			State: StateCompleted, CreatedAt: base, UpdatedAt: base})
		if len(batch) == cap(batch) {
			if _, err := db.UpsertAccounts(ctx, batch, "seed"); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Run("list uncached", func(b *testing.B) {
		for b.Loop() {
			db.write.gen.Add(1) // as after any write
			if got, err := db.Institutions(ctx); err != nil || len(got) != 50 {
				b.Fatalf("got %d, %v", len(got), err)
			}
		}
	})
	b.Run("list cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Institutions(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unnamed scan", func(b *testing.B) {
		for b.Loop() {
			if got, err := db.UnnamedInstitutions(ctx); err != nil || len(got) != 25 {
				b.Fatalf("got %d, %v", len(got), err)
			}
		}
	})
}
