package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bankconnections/portal/store"
)

// createDatabase makes a fresh database of the benchmark's own on the
// PostgreSQL server that adminURL reaches, and returns its URL and a func
// that drops it (after ending its connections).
func createDatabase(ctx context.Context, adminURL, purpose string) (string, func() error, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("-database: give a postgres:// URL")
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	name := "portal_bench_" + purpose + "_" + hex.EncodeToString(b[:])
	admin := func(sql string) error {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(c, adminURL)
		if err != nil {
			return err
		}
		defer conn.Close(c)
		_, err = conn.Exec(c, sql)
		return err
	}
	if err := admin(`CREATE DATABASE ` + name); err != nil {
		return "", nil, fmt.Errorf("create the benchmark's database: %w", err)
	}
	drop := func() error {
		if err := admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `' AND pid <> pg_backend_pid()`); err != nil {
			return err
		}
		return admin(`DROP DATABASE IF EXISTS ` + name)
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// seedPostgres fills the portal's PostgreSQL database with the same dataset
// as seedPortal: the schema as the portal migrates it, then the rows through
// COPY, with the accounts' secondary indexes and counting triggers off
// during the load (one sort per index instead of a million index inserts).
func seedPostgres(ctx context.Context, databaseURL string, cfg seedConfig) (seedInfo, error) {
	st, err := store.OpenPostgres(ctx, databaseURL)
	if err != nil {
		return seedInfo{}, err
	}
	st.Close()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return seedInfo{}, err
	}
	defer conn.Close(ctx)
	exec := func(sql string, args ...any) error {
		_, err := conn.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("%.60s: %w", sql, err)
		}
		return nil
	}
	if err := exec(`SET maintenance_work_mem = '256MB'`); err != nil {
		return seedInfo{}, err
	}

	// Drop the accounts' secondary indexes; keep their definitions to rebuild them.
	rows, err := conn.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = 'accounts'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`)
	if err != nil {
		return seedInfo{}, err
	}
	var names, rebuild []string
	for rows.Next() {
		var n, def string
		if err := rows.Scan(&n, &def); err != nil {
			rows.Close()
			return seedInfo{}, err
		}
		names, rebuild = append(names, n), append(rebuild, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return seedInfo{}, err
	}
	for _, n := range names {
		if err := exec(`DROP INDEX ` + pgx.Identifier{n}.Sanitize()); err != nil {
			return seedInfo{}, err
		}
	}
	if err := exec(`ALTER TABLE accounts DISABLE TRIGGER USER`); err != nil {
		return seedInfo{}, err
	}

	data := newDataset(cfg)
	var users [][]any
	for _, u := range data.users() {
		users = append(users, []any{u.email, cfg.PasswordHash, u.role, u.customer, data.nowS, data.nowS})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"email", "password_hash", "role", "customer_guid", "created_at", "password_changed_at"},
		pgx.CopyFromRows(users)); err != nil {
		return seedInfo{}, fmt.Errorf("users: %w", err)
	}
	if err := exec(`INSERT INTO job_status (name, last_ok_at, last_try_at, last_error) VALUES ('sync', $1, $1, '')
		ON CONFLICT (name) DO UPDATE SET last_ok_at = excluded.last_ok_at, last_try_at = excluded.last_try_at, last_error = ''`, data.nowS); err != nil {
		return seedInfo{}, err
	}
	if err := exec(`INSERT INTO notifications (customer_guid, account_guid, kind, message, created_at) VALUES ($1, NULL, 'refresh_required', $2, $3)`,
		data.benchCustomer, benchBanner, data.nowS); err != nil {
		return seedInfo{}, err
	}

	// The accounts stream from the generator into COPY: no batch in memory.
	accounts := make(chan []any, 1024)
	genErr := make(chan error, 1)
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	go func() {
		defer close(accounts)
		genErr <- data.eachAccount(func(a seedAccount) error {
			v := append(a.values(cfg.BankGUID, data.nowS), "USD", "plaid", "sandbox")
			select {
			case accounts <- v:
				return nil
			case <-genCtx.Done():
				return genCtx.Err()
			}
		})
	}()
	var next []any
	src := pgx.CopyFromFunc(func() ([]any, error) {
		v, ok := <-accounts
		if !ok {
			return nil, <-genErr
		}
		next = v
		return next, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"accounts"}, []string{"guid", "bank_guid", "customer_guid", "name",
		"institution_id", "institution_name", "account_mask", "account_name", "state", "failure_code", "created_at", "updated_at",
		"balance_updated_at", "balance_available", "balance_current", "state_changed_at", "synced_at", "asset", "account_kind", "environment"}, src); err != nil {
		return seedInfo{}, fmt.Errorf("accounts: %w", err)
	}
	for _, def := range rebuild {
		if err := exec(def); err != nil {
			return seedInfo{}, err
		}
	}
	if err := exec(`ALTER TABLE accounts ENABLE TRIGGER USER`); err != nil {
		return seedInfo{}, err
	}
	if err := exec(`UPDATE account_state_counts SET n = (SELECT count(*) FROM accounts WHERE accounts.state = account_state_counts.state)`); err != nil {
		return seedInfo{}, err
	}
	// A database in service has been vacuumed and checkpointed long ago; a
	// freshly loaded one would run autovacuum over the million new rows and
	// flush their pages during the first scenarios instead.
	if err := exec(`VACUUM (ANALYZE)`); err != nil {
		return seedInfo{}, err
	}
	if err := exec(`CHECKPOINT`); err != nil { // needs a superuser or pg_checkpoint; without it the figures are only noisier
		fmt.Fprintf(os.Stderr, "· CHECKPOINT after the load skipped: %v\n", err)
	}

	total := data.total()
	info := seedInfo{Rows: total}
	var changed, g string
	if err := conn.QueryRow(ctx, `SELECT state_changed_at, guid FROM accounts ORDER BY state_changed_at DESC, guid DESC LIMIT 1 OFFSET $1`,
		total*9/10).Scan(&changed, &g); err != nil {
		return seedInfo{}, fmt.Errorf("deep cursor: %w", err)
	}
	t, _ := time.Parse(seedTimeLayout, changed)
	info.DeepCursor = store.Cursor{ChangedAt: t, GUID: g}.String()
	return info, nil
}
