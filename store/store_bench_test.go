package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The store's hot queries: what every page view runs. The dataset is smaller
// than the benchmark command's (cmd/bench), so a run takes seconds:
//
//	go test -run '^$' -bench Store -benchmem ./store
//
// Each runs on both engines (BenchmarkStore/sqlite/…, BenchmarkStore/postgres/…;
// the PostgreSQL half needs PORTAL_TEST_DATABASE_URL, see internal/pgtest).
const (
	benchAccounts  = 200_000
	benchCustomers = 20_000
)

// benchCustomer owns 20 connections, like the accounts page of cmd/bench.
const benchCustomer = "b0000000000000000000000000000001"

func seedBench(b *testing.B, engine string) (*DB, Cursor, string) {
	b.Helper()
	ctx := context.Background()
	db := openEngine(b, engine)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	const cols = 9
	var args []any
	for i := 0; i < benchAccounts+20; i++ {
		var cust any
		switch {
		case i < 20:
			cust = benchCustomer
		case i%100 == 0:
			cust = nil // bank-level
		default:
			cust = fmt.Sprintf("c%031x", i%benchCustomers)
		}
		state := States[rng.IntN(len(States))]
		if rng.IntN(4) > 0 {
			state = StateCompleted
		}
		changed := formatTime(now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))))
		args = append(args, fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()), cust,
			fmt.Sprintf("ins_1095%02d", 8+i%5), fmt.Sprintf("%04d", i%10000), state, changed, changed, changed, changed)
	}
	// Many rows per statement: a round trip per row would make the
	// PostgreSQL seed take minutes.
	const batch = 500
	row := `(?, 'bank', ?, 'Plaid Checking', 'USD', 'plaid', 'sandbox', ?, 'Bank', ?, 'Plaid Checking', ?, ?, ?, ?, ?)`
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for len(args) > 0 {
			n := min(batch, len(args)/cols)
			q := `INSERT INTO accounts (guid, bank_guid, customer_guid, name, asset, account_kind, environment,
			institution_id, institution_name, account_mask, account_name, state, created_at, updated_at, state_changed_at, synced_at)
			VALUES ` + strings.Repeat(row+",", n-1) + row
			if _, err := tx.ExecContext(ctx, q, args[:n*cols]...); err != nil {
				return err
			}
			args = args[n*cols:]
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if db.postgres {
		if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil { // as autovacuum would, soon after a bulk load
			b.Fatal(err)
		}
	}
	u, err := db.CreateUser(ctx, User{Email: "bench@example.com", PasswordHash: "x", Role: RoleCustomer, CustomerGUID: benchCustomer})
	if err != nil {
		b.Fatal(err)
	}
	sid := fmt.Sprintf("%064x", 1)
	if err := db.CreateSession(ctx, sid, u.ID, time.Hour); err != nil {
		b.Fatal(err)
	}
	var changed, guid string
	if err := db.read.QueryRowContext(ctx, `SELECT state_changed_at, guid FROM accounts ORDER BY state_changed_at DESC, guid DESC LIMIT 1 OFFSET ?`,
		benchAccounts*9/10).Scan(&changed, &guid); err != nil {
		b.Fatal(err)
	}
	return db, Cursor{ChangedAt: parseTime(changed), GUID: guid}, sid
}

func BenchmarkStore(b *testing.B) {
	for _, engine := range []string{engineSQLite, enginePostgres} {
		b.Run(engine, func(b *testing.B) { benchmarkStore(b, engine) })
	}
}

func benchmarkStore(b *testing.B, engine string) {
	db, deep, sid := seedBench(b, engine)
	ctx := context.Background()
	b.Run("CustomerAccounts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := db.CustomerAccounts(ctx, benchCustomer)
			if err != nil || len(rows) == 0 {
				b.Fatalf("got %d rows, %v", len(rows), err)
			}
		}
	})
	pages := []struct {
		name  string
		f     AdminFilter
		after *Cursor
	}{
		{"AdminPage/first", AdminFilter{}, nil},
		{"AdminPage/deep", AdminFilter{}, &deep},
		{"AdminPage/state", AdminFilter{State: StateRefreshRequired}, nil},
		{"AdminPage/institution", AdminFilter{InstitutionID: "ins_109510"}, nil},
		{"AdminPage/state+institution+deep", AdminFilter{State: StateRefreshRequired, InstitutionID: "ins_109510"}, &deep},
		{"AdminPage/bank-level", AdminFilter{BankLevel: true}, nil},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, _, err := db.AdminPage(ctx, p.f, p.after, 50)
				if err != nil || len(rows) == 0 {
					b.Fatalf("got %d rows, %v", len(rows), err)
				}
			}
		})
	}
	b.Run("StateCounts", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.StateCounts(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SessionUser", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.SessionUser(ctx, sid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Job", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.Job(ctx, "sync"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AccountsPageQueries/parallel", func(b *testing.B) {
		// The four reads of one accounts page view, from many goroutines.
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.SessionUser(ctx, sid); err != nil {
					b.Error(err)
					return
				}
				if _, err := db.CustomerAccounts(ctx, benchCustomer); err != nil {
					b.Error(err)
					return
				}
				if _, err := db.ActiveNotifications(ctx, benchCustomer); err != nil {
					b.Error(err)
					return
				}
				if _, err := db.QueuedCompletions(ctx, benchCustomer); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSyncPage is one page of the sync: 100 accounts saved in one
// transaction, every one of them changed (a state and a newer copy), or
// none (the common case: the platform's copy is the one held).
func BenchmarkSyncPage(b *testing.B) {
	for _, engine := range []string{engineSQLite, enginePostgres} {
		for _, changed := range []bool{true, false} {
			b.Run(engine+"/"+map[bool]string{true: "all-changed", false: "unchanged"}[changed], func(b *testing.B) {
				db := openEngine(b, engine)
				ctx := context.Background()
				now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
				page := make([]Account, 100)
				for i := range page {
					page[i] = Account{GUID: fmt.Sprintf("%032x", i), BankGUID: "bank", CustomerGUID: fmt.Sprintf("c%031x", i%10), Name: "Plaid Checking",
						Asset: "USD", AccountKind: "plaid", Environment: "sandbox", InstitutionID: "ins_109508", CreatedAt: now}
				}
				n := 0
				for b.Loop() {
					if changed || n == 0 {
						n++
					}
					for i := range page {
						page[i].State = []string{StateCompleted, StateRefreshRequired}[n%2]
						page[i].UpdatedAt = now.Add(time.Duration(n) * time.Second)
					}
					if _, err := db.UpsertAccounts(ctx, page, "sync"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
