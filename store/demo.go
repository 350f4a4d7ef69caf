package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
)

// The demo's reset: the portal's data is copied aside once, right after the
// demo is seeded, and copied back on request while the portal keeps serving.
// Every table is restored (users, sessions, connections, transfers,
// notifications, the outbox, ...), so every session ends.

// ErrSQLiteOnly is returned by the demo's snapshot and restore on PostgreSQL:
// they copy SQLite files.
var ErrSQLiteOnly = errors.New("the demo's snapshot and reset are SQLite-only")

// Snapshot writes a consistent copy of the database to path (replacing any file there).
func (db *DB) Snapshot(ctx context.Context, path string) (err error) {
	defer wrap(&err, "snapshot")
	if db.postgres {
		return ErrSQLiteOnly
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_, err = db.write.ExecContext(ctx, `VACUUM INTO ?`, path)
	return err
}

// RestoreSnapshot replaces the content of every table with that of the
// snapshot at path, in one transaction through the writer, so readers see
// the old data or the new, never a mix, and the read cache is invalidated.
func (db *DB) RestoreSnapshot(ctx context.Context, path string) (err error) {
	if db.postgres {
		return ErrSQLiteOnly
	}
	if _, err := os.Stat(path); err != nil {
		return err
	}
	conn, err := db.write.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer db.write.gen.Add(1)
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS seed`, path); err != nil {
		return err
	}
	defer func() {
		if _, derr := conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE seed`); err == nil {
			err = derr
		}
	}()
	tables, err := snapshotTables(ctx, conn)
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
	copyTable := func(t snapshotTable) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM main."`+t.name+`"`); err != nil {
			return fmt.Errorf("clear %s: %w", t.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main."`+t.name+`" (`+t.cols+`) SELECT `+t.cols+` FROM seed."`+t.name+`"`); err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		return nil
	}
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM main."`+t.name+`"`); err != nil {
			return fmt.Errorf("clear %s: %w", t.name, err)
		}
	}
	for _, t := range tables {
		if err := copyTable(t); err != nil {
			return err
		}
	}
	// The per-state counts are kept by triggers on accounts, which fired
	// while accounts were copied: copy the counts again, last.
	for _, t := range tables {
		if t.name == "account_state_counts" {
			if err := copyTable(t); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

type snapshotTable struct{ name, cols string }

// snapshotTables lists the snapshot's tables (but the migrations' own) with
// the columns the live table also has. The platform simulator resets its demo
// data with its own copy (seedTables): it imports nothing of the portal.
func snapshotTables(ctx context.Context, conn *sql.Conn) ([]snapshotTable, error) {
	names, err := connColumn(ctx, conn, `SELECT name FROM seed.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var out []snapshotTable
	for _, name := range names {
		live, err := connColumn(ctx, conn, `SELECT name FROM pragma_table_info(?, 'main')`, name)
		if err != nil {
			return nil, err
		}
		seed, err := connColumn(ctx, conn, `SELECT name FROM pragma_table_info(?, 'seed')`, name)
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
			out = append(out, snapshotTable{name: name, cols: strings.Join(cols, ", ")})
		}
	}
	return out, nil
}

func connColumn(ctx context.Context, conn *sql.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
}

// RetryCompletionsNow makes every queued completion due at once (the demo's
// "recover": the audience should not wait out a backoff).
func (db *DB) RetryCompletionsNow(ctx context.Context) (err error) {
	defer wrap(&err, "retry completions now")
	_, err = db.write.ExecContext(ctx, `UPDATE completions SET next_attempt_at = ? WHERE state = 'queued'`, formatTime(db.now()))
	return err
}
