// Package store owns the portal's database, SQLite (Open) or PostgreSQL
// (OpenPostgres): its schema (one set of embedded, ordered migrations for
// both engines; see migrate.go), and every query the portal runs, written
// once for both. On SQLite writes go through one connection; reads use a
// small pool, so WAL readers never queue behind a writer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite"
)

// ErrNotFound is returned when a row does not exist (or is not visible to the caller).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("conflict")

// DB is the portal's database: one writer connection and a pool of readers.
type DB struct {
	write *writer
	read  *sql.DB
	cache readCache
	// watch is a connection of its own that never writes: changes asks it
	// whether anyone has committed (see changeWatcher).
	watch   *sql.DB
	changes *changeWatcher
	now     func() time.Time
	// stmts holds the read statements prepared so far, by their text: SQLite
	// parses and plans a hot query once per connection instead of on every
	// call. The texts are constants (or one of a few filter combinations), so
	// the map stays small.
	stmts sync.Map // string -> *sql.Stmt
	// postgres: the database is PostgreSQL (OpenPostgres), not SQLite.
	postgres bool
	// growth counts the accounts this process inserted since it last had
	// PostgreSQL analyze the table (see analyzeAfterGrowth).
	growth accountsGrowth
}

// Open opens (creating if needed) the SQLite file at path and applies pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := ensureDir(path); err != nil {
		return nil, err
	}
	dsn := func(txlock string) string {
		q := url.Values{}
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "cache_size(-32000)")
		q.Set("_txlock", txlock)
		return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		w.Close()
		return nil, err
	}
	readers := max(4, runtime.NumCPU()*2)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	watch, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	watch.SetMaxOpenConns(1)
	db := &DB{write: &writer{DB: w}, read: r, watch: watch, now: func() time.Time { return time.Now().UTC() }}
	return db.start(ctx, `PRAGMA data_version`)
}

// start opens the change watcher (changeQuery tells whether anyone committed)
// and applies pending migrations; on failure it closes db.
func (db *DB) start(ctx context.Context, changeQuery string) (*DB, error) {
	var err error
	if db.changes, err = newChangeWatcher(ctx, db.watch, changeQuery, func() { db.write.gen.Add(1) }); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.stmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	var werr error
	if db.changes != nil {
		werr = db.changes.close()
	}
	return errors.Join(werr, db.watch.Close(), db.read.Close(), db.write.Close())
}

// prepared returns the read pool's prepared statement for q, preparing it once.
func (db *DB) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := db.stmts.Load(q); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.read.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(q, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// query runs a read query through its prepared statement.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := db.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// queryRow runs a one-row read query through its prepared statement.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := db.prepared(ctx, q)
	if err != nil {
		return db.read.QueryRowContext(ctx, q, args...) // reports the same error through Scan
	}
	return s.QueryRowContext(ctx, args...)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// SetClock replaces the clock (tests).
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// tx runs fn in one write transaction, committing when it returns nil. On
// SQLite it is BEGIN IMMEDIATE on the one writer, so transactions never
// interleave. On PostgreSQL it is SERIALIZABLE, and fn runs again (from the
// start, in a new transaction) when PostgreSQL aborts it for a conflict with
// a concurrent one, so code written for serialized writes stays correct: fn
// must not have effects outside the transaction.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	var opts *sql.TxOptions
	attempts := 1
	if db.postgres {
		opts, attempts = &sql.TxOptions{Isolation: sql.LevelSerializable}, txAttempts
	}
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(retryPause(i)):
			}
		}
		if err = db.tx1(ctx, opts, fn); !retryable(err) {
			return err
		}
	}
	return err
}

// retryPause is how long db.tx waits before attempt i+1: growing, capped,
// and jittered so transactions that collided once do not collide again in step.
func retryPause(i int) time.Duration {
	d := min(time.Duration(i*i)*time.Millisecond, 50*time.Millisecond)
	return d/2 + rand.N(d/2+1)
}

func (db *DB) tx1(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	err = tx.Commit()
	db.write.gen.Add(1)
	return err
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}

func nullTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return formatTime(*t)
}

func scanNullTime(ns sql.NullString) *time.Time {
	if !ns.Valid || ns.String == "" {
		return nil
	}
	t := parseTime(ns.String)
	return &t
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isUniqueViolation tells whether a write broke a uniqueness rule, on either engine.
func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// wrap names the store operation an error came from, so a failure in the
// log says which query failed; errors.Is still sees ErrNotFound and the rest.
func wrap(err *error, op string) {
	if *err != nil {
		*err = fmt.Errorf("store: %s: %w", op, *err)
	}
}
