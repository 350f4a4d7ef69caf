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

	data := newDataset(cfg)
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		user, err := tx.PrepareContext(ctx, `INSERT INTO users (email, password_hash, role, customer_guid, created_at, password_changed_at)
			VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer user.Close()
		for _, u := range data.users() {
			if _, err := user.ExecContext(ctx, u.email, cfg.PasswordHash, u.role, u.customer, data.nowS, data.nowS); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_status (name, last_ok_at, last_try_at, last_error) VALUES ('sync', ?, ?, '')
			ON CONFLICT (name) DO UPDATE SET last_ok_at = excluded.last_ok_at, last_try_at = excluded.last_try_at, last_error = ''`, data.nowS, data.nowS); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notifications (customer_guid, account_guid, kind, message, created_at) VALUES (?, NULL, 'refresh_required', ?, ?)`,
			data.benchCustomer, benchBanner, data.nowS)
		return err
	})
	if err != nil {
		return seedInfo{}, fmt.Errorf("users: %w", err)
	}

	// The accounts, in batches.
	insert := func(batch []seedAccount) error {
		return inTx(ctx, db, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO accounts (guid, bank_guid, customer_guid, name, asset, account_kind, environment,
				institution_id, institution_name, account_mask, account_name, state, failure_code, created_at, updated_at,
				balance_updated_at, balance_available, balance_current, state_changed_at, synced_at)
				VALUES (?, ?, ?, ?, 'USD', 'plaid', 'sandbox', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, a := range batch {
				if _, err := stmt.ExecContext(ctx, a.values(cfg.BankGUID, data.nowS)...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	const batchSize = 50_000
	var batch []seedAccount
	err = data.eachAccount(func(a seedAccount) error {
		batch = append(batch, a)
		if len(batch) == batchSize {
			if err := insert(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		return nil
	})
	if err == nil {
		err = insert(batch)
	}
	if err != nil {
		return seedInfo{}, fmt.Errorf("accounts: %w", err)
	}
	total := data.total()

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

const benchBanner = "Your connection to Tartan Bank needs attention: reconnect it to keep using the account."

// dataset generates the benchmark's data, the same for both engines: the
// users (three logins and one per customer) and the accounts (the bench
// customer's 20, then cfg.Connections across everyone, 1% bank-level).
type dataset struct {
	cfg           seedConfig
	rng           *rand.Rand
	now           time.Time
	nowS          string
	customers     []string
	benchCustomer string
}

// seedUser is one login of the dataset.
type seedUser struct {
	email, role string
	customer    any // nil for the admin
}

// seedAccount is one connection of the dataset.
type seedAccount struct {
	guid, name, mask, state, changed string
	customer, failure                any
	inst                             int
	balance                          int64
}

func newDataset(cfg seedConfig) *dataset {
	d := &dataset{cfg: cfg, rng: rand.New(rand.NewPCG(7, 11)), now: time.Now().UTC()}
	d.nowS = d.now.Format(seedTimeLayout)
	d.customers = make([]string, cfg.Customers)
	for i := range d.customers {
		d.customers[i] = d.guid()
	}
	d.benchCustomer = d.guid()
	return d
}

func (d *dataset) guid() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := d.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

func (d *dataset) users() []seedUser {
	us := []seedUser{{customerEmail, "customer", d.benchCustomer}, {linkEmail, "customer", d.cfg.LinkCustomer}, {adminEmail, "admin", nil}}
	for i, c := range d.customers {
		us = append(us, seedUser{fmt.Sprintf("customer-%06d@bench.example", i), "customer", c})
	}
	return us
}

func (d *dataset) total() int { return d.cfg.Connections + 20 }

// eachAccount hands every account to fn, in order.
func (d *dataset) eachAccount(fn func(seedAccount) error) error {
	changedAt := func() string {
		return d.now.Add(-time.Duration(d.rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Millisecond).Format(seedTimeLayout)
	}
	pickState := func() string {
		switch r := d.rng.IntN(100); {
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
	n := 0
	emit := func(cust any, state, changed string, inst int) error {
		a := seedAccount{guid: d.guid(), customer: cust, state: state, changed: changed, inst: inst,
			name: fmt.Sprintf("Checking %d", n%1000), mask: fmt.Sprintf("%04d", d.rng.IntN(10000)), balance: int64(10_000 + n%1000*100)}
		if state == store.StateFailed {
			a.failure = "create_failed"
		}
		n++
		return fn(a)
	}
	benchStates := []string{store.StateRefreshRequired, store.StateRefreshRequired, store.StateFailed, store.StateUnverified, store.StateStoring}
	for i := 0; i < 20; i++ {
		st := store.StateCompleted
		if i < len(benchStates) {
			st = benchStates[i]
		}
		if err := emit(d.benchCustomer, st, changedAt(), i%len(institutions)); err != nil {
			return err
		}
	}
	for i := 0; i < d.cfg.Connections; i++ {
		var cust any
		if i >= d.cfg.BankLevel && len(d.customers) > 0 {
			cust = d.customers[i%len(d.customers)]
		}
		if err := emit(cust, pickState(), changedAt(), d.rng.IntN(len(institutions))); err != nil {
			return err
		}
	}
	return nil
}

// values are the account's columns in the order of both seeders' inserts
// (from bank_guid on, after guid; asset, kind and environment are constants).
func (a seedAccount) values(bankGUID, nowS string) []any {
	inst := institutions[a.inst]
	return []any{a.guid, bankGUID, a.customer, a.name, inst.ID, inst.Name, a.mask, "Plaid Checking", a.state, a.failure,
		a.changed, a.changed, nowS, a.balance, a.balance, a.changed, nowS}
}
