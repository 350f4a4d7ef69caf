package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

// A database made before migration 0006 (four transfer states, a quote
// expiry always set) keeps its transfers through the table's rebuild, and
// then takes the platform's other states and a quote without expiry.
// SQLite only: PostgreSQL's schema starts after 0006 (migrations/postgres/0001_schema.sql).
func TestTransferStatesMigrationKeepsTransfers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Put the file back as it was before 0006.
	old, err := os.ReadFile("migrations/0004_transfers.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 1, 15, 12, 5, 0, 0, time.UTC)
	for _, q := range []string{
		`DROP TABLE transfers`,
		string(old),
		`DELETE FROM schema_migrations WHERE name = 'migrations/0006_transfer_states.sql'`,
		`INSERT INTO transfers (idempotency_key, customer_guid, account_guid, side, rail, amount, fee, quote_guid, quote_expires_at,
			transfer_guid, state, failure_code, created_at, updated_at)
			VALUES ('k1', 'c1', 'a1', 'deposit', 'wire', 2500, 0, 'q1', '` + expires.Format("2006-01-02T15:04:05.000Z") + `',
			't1', 'failed', 'invalid_routing_number', '2026-01-15T12:00:00.000Z', '2026-01-15T12:01:00.000Z')`,
		`INSERT INTO transfers (idempotency_key, customer_guid, account_guid, side, rail, amount, fee, quote_guid, quote_expires_at,
			transfer_guid, state, created_at, updated_at)
			VALUES ('k2', 'c1', 'a1', 'withdrawal', 'ach', 700, 0, 'q2', '` + expires.Format("2006-01-02T15:04:05.000Z") + `',
			't2', 'pending', '2026-01-15T12:00:00.000Z', '2026-01-15T12:01:00.000Z')`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	if _, err := raw.ExecContext(ctx, `UPDATE transfers SET state = 'holding' WHERE idempotency_key = 'k2'`); err == nil {
		t.Fatal("the old table took holding: the test did not rebuild the schema before 0006")
	}
	raw.Close()

	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	k1, err := db.CustomerTransfer(ctx, "c1", "k1")
	if err != nil || k1.State != store.TransferFailed || k1.FailureCode != "invalid_routing_number" || k1.Rail != "wire" ||
		k1.Amount != 2500 || !k1.QuoteExpiresAt.Equal(expires) || k1.TransferGUID != "t1" {
		t.Fatalf("k1 after the migration: got %+v, %v", k1, err)
	}
	open, err := db.OpenTransfers(ctx, 10)
	if err != nil || len(open) != 1 || open[0].Key != "k2" {
		t.Fatalf("open transfers after the migration: got %+v, %v, want k2", open, err)
	}
	for _, state := range []string{store.TransferHolding, store.TransferReviewing, store.TransferCancelling} {
		if err := db.RecordTransfer(ctx, open[0].ID, "t2", state, ""); err != nil {
			t.Fatalf("record %s: %v", state, err)
		}
		if open, err := db.OpenTransfers(ctx, 10); err != nil || len(open) != 1 || open[0].State != state {
			t.Fatalf("a %s transfer: got %+v, %v, want it still open", state, open, err)
		}
	}
	none, err := db.CreateQuotedTransfer(ctx, store.Transfer{Key: "k3", CustomerGUID: "c1", AccountGUID: "a1", Side: "deposit",
		Rail: "ach", Amount: 100, QuoteGUID: "q3"})
	if err != nil || !none.QuoteExpiresAt.IsZero() || none.QuoteExpired(time.Now().Add(24*time.Hour)) {
		t.Fatalf("a quote without expiry: got %+v, %v, want no expiry and never expired", none, err)
	}
}
