package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"time"

	"github.com/bankconnections/portal/store"
)

// Logins the benchmark signs in with.
const (
	benchPassword = "bench-password"
	customerEmail = "bench-customer@example.com" // the accounts page: 20 connections
	linkEmail     = "bench-link@example.com"     // the Link flows: a customer known to the simulator
	adminEmail    = "bench-admin@example.com"
)

// institutions are the ones the portal knows by name (connections/sync.go).
var institutions = []struct{ ID, Name string }{
	{"ins_109508", "First Platypus Bank"},
	{"ins_109509", "First Gingham Credit Union"},
	{"ins_109510", "Tattersall Federal Credit Union"},
	{"ins_109511", "Tartan Bank"},
	{"ins_109512", "Houndstooth Bank"},
	{"ins_127287", "Platypus OAuth Bank"},
	{"ins_128026", "Capital One"},
}

// seedConfig sizes the portal's dataset.
type seedConfig struct {
	Connections  int // across every customer, plus BankLevel
	Customers    int
	BankLevel    int    // connections of the organization itself (no customer)
	BankGUID     string // the simulator's bank
	LinkCustomer string // customer guid known to the simulator
	PasswordHash string // bcrypt of benchPassword
}

// seedInfo is what the scenarios need to know about the data.
type seedInfo struct {
	DeepCursor string // a cursor about 90% of the way into the admin list
	Rows       int
}

const seedTimeLayout = "2006-01-02T15:04:05.000Z"

// seedPortal creates the portal's database at dir/portal.db with the schema
// of the store package and bulk-inserts the dataset: secondary indexes and
// triggers are dropped during the load and rebuilt afterwards (one sort
// instead of a million random index inserts).
func seedPortal(ctx context.Context, dir string, cfg seedConfig) (seedInfo, error) {
	path := filepath.Join(dir, "portal.db")
	st, err := store.Open(ctx, path) // the schema, exactly as the portal migrates it
	if err != nil {
		return seedInfo{}, err
	}
	st.Close()

	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "cache_size(-262144)")
	q.Add("_pragma", "temp_store(MEMORY)")
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?"+q.Encode())
	if err != nil {
		return seedInfo{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rng := rand.New(rand.NewPCG(7, 11))
	guid := func() string {
		var b [16]byte
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return hex.EncodeToString(b[:])
	}
	now := time.Now().UTC()
	nowS := now.Format(seedTimeLayout)

	// Drop what slows a bulk load; keep the SQL to rebuild it.
	var rebuild []string
	rows, err := db.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE tbl_name = 'accounts' AND type IN ('index', 'trigger') AND sql IS NOT NULL`)
	if err != nil {
		return seedInfo{}, err
	}
	var drops []string
	for rows.Next() {
		var typ, name, sqlText string
		if err := rows.Scan(&typ, &name, &sqlText); err != nil {
			rows.Close()
			return seedInfo{}, err
		}
		drops = append(drops, "DROP "+typ+" "+name)
		rebuild = append(rebuild, sqlText)
	}
	rows.Close()
	for _, d := range drops {
		if _, err := db.ExecContext(ctx, d); err != nil {
			return seedInfo{}, err
		}
	}

	customers := make([]string, cfg.Customers)
	for i := range customers {
		customers[i] = guid()
	}
	benchCustomer := guid()

	err = inTx(ctx, db, func(tx *sql.Tx) error {
		user, err := tx.PrepareContext(ctx, `INSERT INTO users (email, password_hash, role, customer_guid, created_at, password_changed_at)
			VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer user.Close()
		for _, u := range []struct{ email, role, cust any }{
			{customerEmail, "customer", benchCustomer}, {linkEmail, "customer", cfg.LinkCustomer}, {adminEmail, "admin", nil},
		} {
			if _, err := user.ExecContext(ctx, u.email, cfg.PasswordHash, u.role, u.cust, nowS, nowS); err != nil {
				return err
			}
		}
		for i, c := range customers {
			if _, err := user.ExecContext(ctx, fmt.Sprintf("customer-%06d@bench.example", i), cfg.PasswordHash, "customer", c, nowS, nowS); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_status (name, last_ok_at, last_try_at, last_error) VALUES ('sync', ?, ?, '')
			ON CONFLICT (name) DO UPDATE SET last_ok_at = excluded.last_ok_at, last_try_at = excluded.last_try_at, last_error = ''`, nowS, nowS); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notifications (customer_guid, account_guid, kind, message, created_at) VALUES (?, NULL, 'refresh_required', ?, ?)`,
			benchCustomer, "Your connection to Tartan Bank needs attention: reconnect it to keep using the account.", nowS)
		return err
	})
	if err != nil {
		return seedInfo{}, fmt.Errorf("users: %w", err)
	}

	// The accounts: the bench customer's 20, then everyone else's, in batches.
	type acct struct {
		cust           any
		state, changed string
		inst           int
	}
	insert := func(batch []acct) error {
		return inTx(ctx, db, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO accounts (guid, bank_guid, customer_guid, name, asset, account_kind, environment,
				institution_id, institution_name, account_mask, account_name, state, failure_code, created_at, updated_at,
				balance_updated_at, balance_available, balance_current, state_changed_at, synced_at)
				VALUES (?, ?, ?, ?, 'USD', 'plaid', 'sandbox', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i, a := range batch {
				var failure any
				if a.state == store.StateFailed {
					failure = "create_failed"
				}
				inst := institutions[a.inst]
				bal := int64(10_000 + i%1000*100)
				if _, err := stmt.ExecContext(ctx, guid(), cfg.BankGUID, a.cust, fmt.Sprintf("Checking %d", i%1000), inst.ID, inst.Name,
					fmt.Sprintf("%04d", rng.IntN(10000)), "Plaid Checking", a.state, failure, a.changed, a.changed, nowS, bal, bal, a.changed, nowS); err != nil {
					return err
				}
			}
			return nil
		})
	}
	changedAt := func() string {
		return now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Millisecond).Format(seedTimeLayout)
	}
	pickState := func() string {
		switch r := rng.IntN(100); {
		case r < 80:
			return store.StateCompleted
		case r < 86:
			return store.StateRefreshRequired
		case r < 90:
			return store.StateFailed
		case r < 93:
			return store.StateUnverified
		case r < 95:
			return store.StateStoring
		case r < 96:
			return store.StateDeleting
		default:
			return store.StateDeleted
		}
	}
	var batch []acct
	benchStates := []string{store.StateRefreshRequired, store.StateRefreshRequired, store.StateFailed, store.StateUnverified, store.StateStoring}
	for i := 0; i < 20; i++ {
		st := store.StateCompleted
		if i < len(benchStates) {
			st = benchStates[i]
		}
		batch = append(batch, acct{cust: benchCustomer, state: st, changed: changedAt(), inst: i % len(institutions)})
	}
	const batchSize = 50_000
	for i := 0; i < cfg.Connections; i++ {
		var cust any
		if i < cfg.BankLevel || len(customers) == 0 {
			cust = nil
		} else {
			cust = customers[i%len(customers)]
		}
		batch = append(batch, acct{cust: cust, state: pickState(), changed: changedAt(), inst: rng.IntN(len(institutions))})
		if len(batch) == batchSize {
			if err := insert(batch); err != nil {
				return seedInfo{}, fmt.Errorf("accounts: %w", err)
			}
			batch = batch[:0]
		}
	}
	if err := insert(batch); err != nil {
		return seedInfo{}, fmt.Errorf("accounts: %w", err)
	}
	total := cfg.Connections + 20

	for _, s := range rebuild {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return seedInfo{}, fmt.Errorf("rebuild %q: %w", s, err)
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE account_state_counts SET n = (SELECT count(*) FROM accounts WHERE accounts.state = account_state_counts.state)`); err != nil {
		return seedInfo{}, err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return seedInfo{}, err
	}

	info := seedInfo{Rows: total}
	var changed, g string
	err = db.QueryRowContext(ctx, `SELECT state_changed_at, guid FROM accounts ORDER BY state_changed_at DESC, guid DESC LIMIT 1 OFFSET ?`,
		total*9/10).Scan(&changed, &g)
	if err != nil {
		return seedInfo{}, fmt.Errorf("deep cursor: %w", err)
	}
	t, _ := time.Parse(seedTimeLayout, changed)
	info.DeepCursor = store.Cursor{ChangedAt: t, GUID: g}.String()
	return info, nil
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
