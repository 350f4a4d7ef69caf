package simplatform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// The demo's reset: the simulator's data is copied aside once, right after
// the demo is seeded, and copied back on request while the simulator keeps
// serving. The bank's identity (settings: guid, credentials, signing key)
// is never touched, so tokens already issued stay valid.

// Snapshot writes a consistent copy of the simulator's database to path
// (replacing any file there).
func (s *Server) Snapshot(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}

// Restore replaces every customer, account, workflow, quote, transfer and
// webhook delivery with those of the snapshot at path, in one transaction,
// and clears the injected faults. The accounts come back as updated now.
func (s *Server) Restore(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	err = restoreTables(ctx, conn, path, map[string]bool{"settings": true, "migrations": true})
	if err == nil {
		// The restored accounts are news to a client that saw later versions:
		// they must not look older than what it holds (clients keep the newest copy).
		_, err = conn.ExecContext(ctx, `UPDATE external_bank_accounts SET updated_at = ?`, millis(time.Now()))
	}
	s.lists.changed()
	s.faults.set(nil)
	return err
}

// AccountAccessToken returns the Plaid access token of an account's Item, so
// a demo can ask Plaid's sandbox to fire a webhook for it.
func (s *Server) AccountAccessToken(ctx context.Context, guid string) (string, error) {
	var tok string
	err := s.db.QueryRowContext(ctx, `SELECT plaid_access_token FROM external_bank_accounts WHERE guid = ?`, guid).Scan(&tok)
	if errors.Is(err, sql.ErrNoRows) || err == nil && tok == "" {
		return "", fmt.Errorf("simplatform: account %s has no Plaid Item", guid)
	}
	return tok, err
}

// restoreTables copies every table of the database file at path over the
// one of the same name on conn, except those in skip. The database's own
// triggers are not relied on: every table is copied as it was.
func restoreTables(ctx context.Context, conn *sql.Conn, path string, skip map[string]bool) (err error) {
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS seed`, path); err != nil {
		return err
	}
	defer func() {
		if _, derr := conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE seed`); err == nil {
			err = derr
		}
	}()
	tables, err := seedTables(ctx, conn, skip)
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM main."`+t.name+`"`); err != nil {
			return fmt.Errorf("clear %s: %w", t.name, err)
		}
	}
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, `INSERT INTO main."`+t.name+`" (`+t.cols+`) SELECT `+t.cols+` FROM seed."`+t.name+`"`); err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
	}
	return tx.Commit()
}

type seedTable struct{ name, cols string }

// seedTables lists the snapshot's tables that the live database also has,
// with the columns both have. The portal's store resets its demo data the
// same way with its own copy of this code: the simulator stands for a
// separate system and imports nothing of the portal (README, Layout), so
// the few lines stay written twice.
func seedTables(ctx context.Context, conn *sql.Conn, skip map[string]bool) ([]seedTable, error) {
	names, err := column(ctx, conn, `SELECT name FROM seed.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var out []seedTable
	for _, name := range names {
		if skip[name] {
			continue
		}
		live, err := column(ctx, conn, `SELECT name FROM pragma_table_info(?, 'main')`, name)
		if err != nil {
			return nil, err
		}
		seed, err := column(ctx, conn, `SELECT name FROM pragma_table_info(?, 'seed')`, name)
		if err != nil {
			return nil, err
		}
		has := map[string]bool{}
		for _, c := range live {
			has[c] = true
		}
		var cols []string
		for _, c := range seed {
			if has[c] {
				cols = append(cols, `"`+c+`"`)
			}
		}
		if len(cols) > 0 {
			out = append(out, seedTable{name: name, cols: strings.Join(cols, ", ")})
		}
	}
	return out, nil
}

func column(ctx context.Context, conn *sql.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
