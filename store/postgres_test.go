package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bankconnections/portal/internal/pgtest"
)

// Two instances starting at once on a fresh database both open it, and each
// migration is applied (and recorded) exactly once.
func TestOpenPostgresTwiceAtOnceMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	const instances = 4
	var wg sync.WaitGroup
	errs := make([]error, instances)
	dbs := make([]*DB, instances)
	start := make(chan struct{})
	for i := range instances {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = OpenPostgres(ctx, url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	names, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := dbs[0].read.QueryContext(ctx, `SELECT name, COUNT(*) FROM schema_migrations GROUP BY name`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		got[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(names) {
		t.Errorf("migrations recorded: got %v, want each of the %d files once", got, len(names))
	}
	for _, f := range names {
		if n := got["migrations/"+f.Name()]; n != 1 {
			t.Errorf("migration %s: recorded %d times, want 1", f.Name(), n)
		}
	}
	// The schema is there once too: the per-state counts hold one row per state.
	var states int
	if err := dbs[1].read.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_state_counts`).Scan(&states); err != nil || states != 7 {
		t.Errorf("account_state_counts rows: got %d, %v; want 7", states, err)
	}
}

// A write through one instance is seen by another instance's cached read
// from its next request-start check on (SeeOtherWrites), on both engines.
func TestCachedReadSeesAnotherInstancesWriteAtTheNextCheck(t *testing.T) {
	EachEnginePair(t, func(t *testing.T, portal, other *DB) {
		ctx := context.Background()
		now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
		acct := func(guid, state string, at time.Time) Account {
			return Account{GUID: guid, BankGUID: "bank", CustomerGUID: "cust", Name: "Plaid Checking", Asset: "USD",
				AccountKind: "plaid", Environment: "sandbox", InstitutionID: "ins_1", State: state, CreatedAt: now, UpdatedAt: at}
		}
		if _, err := portal.UpsertAccounts(ctx, []Account{acct("a1", StateCompleted, now)}, "sync"); err != nil {
			t.Fatal(err)
		}
		portal.SeeOtherWrites()
		for range 2 { // the second read comes from the cache
			got, err := portal.CustomerAccounts(ctx, "cust")
			if err != nil || len(got) != 1 || got[0].State != StateCompleted {
				t.Fatalf("before: got %+v, %v; want a1 completed", got, err)
			}
		}
		if _, err := other.UpsertAccounts(ctx, []Account{acct("a1", StateRefreshRequired, now.Add(time.Minute))}, "sync"); err != nil {
			t.Fatal(err)
		}
		portal.SeeOtherWrites() // what SessionUser does at the start of each signed-in request
		got, err := portal.CustomerAccounts(ctx, "cust")
		if err != nil || len(got) != 1 || got[0].State != StateRefreshRequired {
			t.Fatalf("after the other instance's write: got %+v, %v; want a1 refresh_required", got, err)
		}
	})
}

// db.tx on PostgreSQL behaves as SQLite's one writer does: concurrent
// read-then-write transactions lose no update (serializable, and a
// transaction aborted for a conflict runs again).
func TestPostgresTxRunsAgainOnConflict(t *testing.T) {
	db := openEngine(t, enginePostgres)
	ctx := context.Background()
	const writers, each = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- db.tx(ctx, func(tx *sql.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT n FROM account_state_counts WHERE state = 'failed'`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE account_state_counts SET n = ? WHERE state = 'failed'`, n+1)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a transaction failed: %v", err)
		}
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT n FROM account_state_counts WHERE state = 'failed'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Errorf("increments kept: got %d, want %d", n, writers*each)
	}
}

// The demo's snapshot copies SQLite files: on PostgreSQL it says so and
// changes nothing.
func TestDemoSnapshotIsSQLiteOnly(t *testing.T) {
	db := openEngine(t, enginePostgres)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "seed.db")
	if err := db.Snapshot(ctx, path); !errors.Is(err, ErrSQLiteOnly) {
		t.Errorf("snapshot: got %v, want ErrSQLiteOnly", err)
	}
	if err := db.RestoreSnapshot(ctx, path); !errors.Is(err, ErrSQLiteOnly) {
		t.Errorf("restore: got %v, want ErrSQLiteOnly", err)
	}
	if db.Engine() != "postgres" {
		t.Errorf("engine: got %q, want postgres", db.Engine())
	}
}

// The two schemas agree: the same tables with the same columns, each as
// nullable in both, so one set of queries fits both engines. A migration
// added to one folder and not (or differently) to the other fails here.
func TestSchemasAgree(t *testing.T) {
	sqlite := columnsOf(t, openEngine(t, engineSQLite), `SELECT m.name, c.name,
		CASE WHEN c."notnull" OR c.pk THEN 'NOT NULL' ELSE 'NULL' END FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
	pg := columnsOf(t, openEngine(t, enginePostgres), `SELECT table_name, column_name,
		CASE WHEN is_nullable = 'NO' THEN 'NOT NULL' ELSE 'NULL' END FROM information_schema.columns
		WHERE table_schema = current_schema()`)
	for col, null := range sqlite {
		if pg[col] != null {
			t.Errorf("%s: SQLite %s, PostgreSQL %q", col, null, pg[col])
		}
	}
	for col, null := range pg {
		if _, ok := sqlite[col]; !ok {
			t.Errorf("%s: PostgreSQL %s, not in SQLite", col, null)
		}
	}
}

// Text sorts byte by byte on PostgreSQL as on SQLite, even in a database
// whose default collation sorts by language (ICU en-US: "a2" before "B1"):
// the admin tab lists connections in the same order on both engines.
func TestPostgresSortsTextAsSQLiteDoes(t *testing.T) {
	admin := os.Getenv(pgtest.EnvURL)
	pgtest.URL(t) // skips (or fails where PostgreSQL is required) without a database
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	name := fmt.Sprintf("portal_test_icu_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`); err != nil {
		t.Skipf("no ICU collation to try: %v", err)
	}
	t.Cleanup(func() { // before the connection closes (cleanups run last first)
		if _, err := conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	var orders []string
	for _, db := range []*DB{openEngine(t, engineSQLite), openAt(t, enginePostgres, u.String())} {
		now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
		var accounts []Account
		for _, guid := range []string{"a2", "B1", "a-3"} {
			accounts = append(accounts, Account{GUID: guid, BankGUID: "bank", Name: "n", Asset: "USD", AccountKind: "plaid",
				Environment: "sandbox", State: StateCompleted, CreatedAt: now, UpdatedAt: now})
		}
		if _, err := db.UpsertAccounts(ctx, accounts, "sync"); err != nil {
			t.Fatal(err)
		}
		page, _, err := db.AdminPage(ctx, AdminFilter{}, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		var guids []string
		for _, a := range page {
			guids = append(guids, a.GUID)
		}
		orders = append(orders, strings.Join(guids, ","))
	}
	if orders[0] != "a2,a-3,B1" || orders[1] != orders[0] {
		t.Errorf("admin order: SQLite %s, PostgreSQL %s; want a2,a-3,B1 on both (bytes, descending)", orders[0], orders[1])
	}
}

// A first sync fills an empty accounts table faster than autovacuum looks:
// the store has PostgreSQL analyze it as it grows, so the sync's lookups are
// planned for the table's real size (a plan for an empty table scans it
// whole for every page: 100,000 accounts took up to 23 s instead of 10).
func TestPostgresAnalyzesTheAccountsTableAsASyncFillsIt(t *testing.T) {
	db := openEngine(t, enginePostgres)
	ctx := context.Background()
	// Autovacuum could analyze the table on its own during the test.
	if _, err := db.write.DB.ExecContext(ctx, `ALTER TABLE accounts SET (autovacuum_enabled = off)`); err != nil {
		t.Fatal(err)
	}
	estimate := func() float64 {
		var n float64
		if err := db.read.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'accounts'::regclass`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := estimate(); n > 0 {
		t.Fatalf("a new table is estimated at %v rows, want none yet", n)
	}
	syncPages(t, db, 0, 12)
	if n := estimate(); n < minAnalyzeGrowth {
		t.Errorf("after 1,200 new accounts the table is estimated at %v rows, want at least %d (analyzed)", n, minAnalyzeGrowth)
	}
}

// syncPages saves pages of 100 new accounts, from page first on, as the sync saves them.
func syncPages(t *testing.T, db *DB, first, pages int) {
	t.Helper()
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for page := first; page < first+pages; page++ {
		var accts []Account
		for i := range 100 {
			accts = append(accts, Account{GUID: fmt.Sprintf("%032x", page*100+i), BankGUID: "bank", CustomerGUID: "cust",
				Name: "Plaid Checking", Asset: "USD", AccountKind: "plaid", Environment: "sandbox", InstitutionID: "ins_1",
				State: StateCompleted, CreatedAt: now, UpdatedAt: now})
		}
		if _, err := db.UpsertAccounts(context.Background(), accts, "sync"); err != nil {
			t.Fatal(err)
		}
	}
}

// An instance starting on a table PostgreSQL has analyzed counts growth from
// that size: a big bank's table is left to autovacuum, not analyzed after
// every thousand new accounts.
func TestPostgresAnalyzeCountsGrowthFromTheTablesSize(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	first := openAt(t, enginePostgres, url)
	syncPages(t, first, 0, 30)
	if _, err := first.write.DB.ExecContext(ctx, `ALTER TABLE accounts SET (autovacuum_enabled = off)`); err != nil {
		t.Fatal(err)
	}
	if _, err := first.write.DB.ExecContext(ctx, `ANALYZE accounts`); err != nil {
		t.Fatal(err)
	}
	next := openAt(t, enginePostgres, url) // another instance, or this one restarted
	syncPages(t, next, 30, 12)             // 1,200 more: not a doubling of 3,000
	var n float64
	if err := next.read.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'accounts'::regclass`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3000 {
		t.Errorf("the table is estimated at %v rows, want 3000: analyzed again after 1,200 new accounts", n)
	}
}
