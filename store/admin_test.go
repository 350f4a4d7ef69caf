package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func openAdminDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var adminInstitutions = []string{"ins_109508", "ins_109509", "ins_109510", "ins_128026"}

func adminCustomer(i int) string { return fmt.Sprintf("c%031x", i%40) }

// seedAdmin inserts n connections in batches, every few with the same
// state_changed_at (ties are broken by guid), about one in ten bank-level.
func seedAdmin(t testing.TB, db *DB, start, n int) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tick atomic.Int64
	tick.Store(int64(start))
	db.SetClock(func() time.Time { return base.Add(time.Duration(tick.Load()/3) * time.Second) })
	batch := make([]Account, 0, 500)
	for i := start; i < start+n; i++ {
		tick.Store(int64(i))
		cust := adminCustomer(i)
		if i%10 == 0 {
			cust = ""
		}
		a := Account{GUID: fmt.Sprintf("%032x", i+1), BankGUID: "bank", CustomerGUID: cust, Name: "Plaid Checking", Asset: "USD",
			AccountKind: "plaid", Environment: "sandbox", InstitutionID: adminInstitutions[i%len(adminInstitutions)],
			AccountMask: fmt.Sprintf("%04d", i%10000), State: States[i%len(States)], CreatedAt: base, UpdatedAt: base}
		batch = append(batch[:0], a)
		if _, err := db.UpsertAccounts(ctx, batch, "seed"); err != nil {
			t.Fatal(err)
		}
	}
}

func adminFilters() map[string]AdminFilter {
	return map[string]AdminFilter{
		"all":                     {},
		"state":                   {State: StateRefreshRequired},
		"institution":             {InstitutionID: "ins_109509"},
		"customer":                {CustomerGUID: adminCustomer(7)},
		"bank-level":              {BankLevel: true},
		"state+institution":       {State: StateCompleted, InstitutionID: "ins_109508"},
		"state+customer":          {State: StateFailed, CustomerGUID: adminCustomer(3)},
		"bank-level+state":        {BankLevel: true, State: StateDeleted},
		"bank-level+institution":  {BankLevel: true, InstitutionID: "ins_109510"},
		"institution+customer":    {InstitutionID: "ins_109508", CustomerGUID: adminCustomer(4)},
		"state+inst+customer":     {State: StateStoring, InstitutionID: "ins_109508", CustomerGUID: adminCustomer(8)},
		"bank+state+institution":  {BankLevel: true, State: StateStoring, InstitutionID: "ins_109508"},
		"no rows (bank+customer)": {BankLevel: true, CustomerGUID: adminCustomer(1)},
	}
}

func matches(f AdminFilter, a Account) bool {
	return (f.State == "" || a.State == f.State) && (f.InstitutionID == "" || a.InstitutionID == f.InstitutionID) &&
		(f.CustomerGUID == "" || a.CustomerGUID == f.CustomerGUID) && (!f.BankLevel || a.CustomerGUID == "")
}

// walk pages through a filter, calling between after each page.
func walk(t *testing.T, db *DB, f AdminFilter, size int, between func()) []Account {
	t.Helper()
	var all []Account
	var cur *Cursor
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("pagination does not end")
		}
		if cur != nil { // every cursor survives its round trip through the URL
			c, err := ParseCursor(cur.String())
			if err != nil || c != *cur {
				t.Fatalf("cursor round trip: got %+v, %v; want %+v", c, err, *cur)
			}
			cur = &c
		}
		page, next, err := db.AdminPage(context.Background(), f, cur, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > size {
			t.Fatalf("page of %d rows, want at most %d", len(page), size)
		}
		all = append(all, page...)
		if next == nil {
			return all
		}
		if between != nil {
			between()
		}
		cur = next
	}
}

func TestAdminPagesAreCorrectAndStable(t *testing.T) {
	EachEngine(t, func(t *testing.T, db *DB) {
		const n = 3000
		seedAdmin(t, db, 0, n)
		if got := len(sortedAccounts(t, db)); got != n {
			t.Fatalf("seeded %d, want %d", got, n)
		}
		// Rows inserted during a walk always get the newest times of the whole
		// test, including rows earlier subtests inserted.
		newest := 10_000_000
		for name, f := range adminFilters() {
			t.Run(name, func(t *testing.T) {
				var want []string
				for _, a := range sortedAccounts(t, db) {
					if matches(f, a) {
						want = append(want, a.GUID)
					}
				}
				inserted := 0
				// New connections arrive between pages: they sort before the cursor
				// (newer), so the walk still returns exactly the rows it started with.
				got := walk(t, db, f, 50, func() {
					inserted++
					newest += 3
					seedAdmin(t, db, newest, 3)
				})
				seen := map[string]bool{}
				var gotGUIDs []string
				for _, a := range got {
					if seen[a.GUID] {
						t.Fatalf("row %s twice", a.GUID)
					}
					seen[a.GUID] = true
					if !matches(f, a) {
						t.Fatalf("row %s does not match the filter %+v", a.GUID, f)
					}
					gotGUIDs = append(gotGUIDs, a.GUID)
				}
				if strings.Join(gotGUIDs, ",") != strings.Join(want, ",") {
					t.Fatalf("got %d rows, want %d in order (first got %v)", len(gotGUIDs), len(want), gotGUIDs[:min(3, len(gotGUIDs))])
				}
			})
		}
	})
}

// sortedAccounts returns every connection in the admin order, sorted in Go.
func sortedAccounts(t *testing.T, db *DB) []Account {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), `SELECT `+accountColumns+` FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	every, err := collectAccounts(rows)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(every, func(i, j int) bool {
		a, b := every[i], every[j]
		if !a.StateChangedAt.Equal(b.StateChangedAt) {
			return a.StateChangedAt.After(b.StateChangedAt)
		}
		return a.GUID > b.GUID
	})
	return every
}

// SQLite only: it reads SQLite's EXPLAIN QUERY PLAN.
func TestAdminPageUsesAnIndexForEveryFilter(t *testing.T) {
	ctx := context.Background()
	db := openAdminDB(t)
	seedAdmin(t, db, 0, 2000)
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	after := &Cursor{ChangedAt: time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC), GUID: strings.Repeat("a", 32)}
	for name, f := range adminFilters() {
		if f.BankLevel && f.CustomerGUID != "" {
			continue
		}
		for _, cur := range []*Cursor{nil, after} {
			plan, err := db.explainAdminPage(ctx, f, cur)
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "; ")
			if !strings.Contains(text, "USING INDEX") && !strings.Contains(text, "USING COVERING INDEX") {
				t.Errorf("%s (cursor %v): plan %q does not use an index", name, cur != nil, text)
			}
			if strings.Contains(text, "TEMP B-TREE") {
				t.Errorf("%s (cursor %v): plan %q sorts instead of walking an index in order", name, cur != nil, text)
			}
			if strings.Contains(text, "SCAN accounts") && !strings.Contains(text, "INDEX") {
				t.Errorf("%s: plan %q scans the table", name, text)
			}
		}
	}
}

func TestParseCursorRefusesWhatItDidNotMake(t *testing.T) {
	good := Cursor{ChangedAt: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), GUID: strings.Repeat("0a", 16)}
	if c, err := ParseCursor(good.String()); err != nil || c != good {
		t.Fatalf("round trip: got %+v, %v", c, err)
	}
	for _, bad := range []string{"", "!!!", "YWJj", good.String() + "x", strings.Repeat("A", 200),
		Cursor{ChangedAt: good.ChangedAt, GUID: "ZZ"}.String()} {
		if _, err := ParseCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestRefreshJobsOneRunningPerConnection(t *testing.T) {
	EachEngine(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		g := strings.Repeat("1", 32)
		lease := time.Now().Add(time.Minute)
		j, err := db.CreateRefreshJob(ctx, g, 0, "instance-a", lease)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateRefreshJob(ctx, g, 0, "instance-b", lease); !errors.Is(err, ErrConflict) {
			t.Fatalf("second running refresh: got %v, want ErrConflict", err)
		}
		if err := db.FinishRefreshJob(ctx, j.ID, RefreshSucceeded, "done"); err != nil {
			t.Fatal(err)
		}
		got, err := db.LatestRefreshJob(ctx, g)
		if err != nil || got.State != RefreshSucceeded || got.Message != "done" || got.FinishedAt == nil {
			t.Fatalf("latest: got %+v, %v", got, err)
		}
		if _, err := db.CreateRefreshJob(ctx, g, 0, "instance-a", time.Now().Add(-time.Second)); err != nil {
			t.Fatalf("refresh after the last one finished: %v", err)
		}
		if n, err := db.FailInterruptedRefreshJobs(ctx, "restart"); err != nil || n != 1 {
			t.Fatalf("interrupted jobs ended: got %d, %v; want 1", n, err)
		}
		if got, _ := db.LatestRefreshJob(ctx, g); got.State != RefreshFailed || got.Message != "restart" {
			t.Fatalf("interrupted: got %+v", got)
		}
	})
}

func TestAuditAndOutbox(t *testing.T) {
	EachEngine(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		g := strings.Repeat("2", 32)
		id, err := db.AddAudit(ctx, AuditEntry{ActorEmail: "admin@example.com", Action: "disconnect", AccountGUID: g, Result: AuditFailed, Detail: "refused", Ref: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		e, err := db.Audit(ctx, id)
		if err != nil || e.Action != "disconnect" || e.Result != AuditFailed || e.AccountGUID != g || e.At.IsZero() {
			t.Fatalf("audit: got %+v, %v", e, err)
		}
		if l, _ := db.AuditForAccount(ctx, g); len(l) != 1 {
			t.Fatalf("audit for account: got %d entries", len(l))
		}
		if l, _ := db.AuditForRef(ctx, "s1"); len(l) != 1 {
			t.Fatalf("audit for ref: got %d entries", len(l))
		}
		if _, err := db.AddAudit(ctx, AuditEntry{Action: "x", Result: "weird"}); err == nil {
			t.Fatal("unknown result: got nil error")
		}

		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		db.SetClock(func() time.Time { return now })
		mid, err := db.QueueEmail(ctx, Email{To: "a@example.com", Subject: "s", Body: "b", AccountGUID: g})
		if err != nil {
			t.Fatal(err)
		}
		due, _ := db.DueEmails(ctx, 10)
		if len(due) != 1 || due[0].ID != mid || due[0].State != EmailQueued {
			t.Fatalf("due: got %+v", due)
		}
		if ok, _ := db.ClaimEmail(ctx, mid, now.Add(time.Minute)); !ok {
			t.Fatal("claim: got false")
		}
		if ok, _ := db.ClaimEmail(ctx, mid, now.Add(time.Minute)); ok {
			t.Fatal("second claim before the retry time: got true")
		}
		if due, _ := db.DueEmails(ctx, 10); len(due) != 0 {
			t.Fatalf("claimed email still due: %+v", due)
		}
		if err := db.MarkEmailSent(ctx, mid); err != nil {
			t.Fatal(err)
		}
		sent, _ := db.Emails(ctx, EmailSent, 10)
		if len(sent) != 1 || sent[0].SentAt == nil || sent[0].Attempts != 1 {
			t.Fatalf("sent: got %+v", sent)
		}
		if l, _ := db.EmailsForAccount(ctx, g); len(l) != 1 {
			t.Fatalf("emails for account: got %d", len(l))
		}
	})
}

// BenchmarkAdminPage measures one page of the admin tab (first and a deep
// cursor, each filter) on a table of PORTAL_BENCH_ROWS connections (default 20,000).
func BenchmarkAdminPage(b *testing.B) {
	ctx := context.Background()
	db := openAdminDB(b)
	n := 20000
	if v := getenvInt("PORTAL_BENCH_ROWS"); v > 0 {
		n = v
	}
	bulkSeed(b, db, n)
	filters := adminFilters()
	names := make([]string, 0, len(filters))
	for k := range filters {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		f := filters[name]
		// A cursor halfway down the list.
		var deep *Cursor
		var cur *Cursor
		for i := 0; i < 20; i++ {
			_, next, err := db.AdminPage(ctx, f, cur, 50)
			if err != nil {
				b.Fatal(err)
			}
			if next == nil {
				break
			}
			cur, deep = next, next
		}
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c := deep
				if i%2 == 0 {
					c = nil
				}
				if _, _, err := db.AdminPage(ctx, f, c, 50); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("state_counts", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := db.StateCounts(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// bulkSeed inserts n connections fast, in one transaction, with the triggers
// that keep the counts.
func bulkSeed(tb testing.TB, db *DB, n int) {
	tb.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO accounts (guid, bank_guid, customer_guid, name, asset, account_kind, environment,
		institution_id, institution_name, account_mask, state, created_at, updated_at, state_changed_at, synced_at)
		VALUES (?, 'bank', ?, 'Plaid Checking', 'USD', 'plaid', 'sandbox', ?, '', ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		var cust any = fmt.Sprintf("c%031x", i%(n/10+1))
		if i%10 == 0 {
			cust = nil
		}
		at := formatTime(base.Add(time.Duration(i/3) * time.Second))
		if _, err := stmt.ExecContext(ctx, fmt.Sprintf("%032x", i+1), cust, adminInstitutions[i%len(adminInstitutions)],
			fmt.Sprintf("%04d", i%10000), States[i%len(States)], at, at, at, at); err != nil {
			tb.Fatal(err)
		}
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}

func getenvInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
