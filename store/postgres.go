package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL is the store of a bank that runs several portal instances on one
// database. The queries are the same as SQLite's: they keep `?` placeholders
// (rewritten to $n by the connection, below), times stay TEXT in timeLayout
// and flags stay integers, so every comparison and ORDER BY means the same.

const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// Engine names the database behind the store: "sqlite" or "postgres".
func (db *DB) Engine() string {
	if db.postgres {
		return enginePostgres
	}
	return engineSQLite
}

// OpenPostgres connects to the PostgreSQL database at url (postgres://…) and
// applies pending migrations.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	open := func(maxConns int) *sql.DB {
		p := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
		p.SetMaxOpenConns(maxConns)
		p.SetMaxIdleConns(maxConns)
		p.SetConnMaxIdleTime(5 * time.Minute)
		return p
	}
	// Writers are not serialized by the engine here: db.tx runs serializable
	// transactions and retries on conflict instead.
	w, r, watch := open(8), open(16), open(1)
	db := &DB{write: &writer{DB: w}, read: r, watch: watch, postgres: true, now: func() time.Time { return time.Now().UTC() }}
	if err := r.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := db.start(ctx, postgresChangePosition); err != nil {
		return nil, err
	}
	// The table's size as PostgreSQL last estimated it (-1 before its first
	// analysis): growth is counted from there (see analyzeAfterGrowth), so a
	// bank's big table is left to autovacuum.
	var estimate float64
	if err := db.read.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = 'accounts'::regclass`).Scan(&estimate); err == nil && estimate > 0 {
		db.growth.atLast = int64(estimate)
	}
	return db, nil
}

// postgresChangePosition is a digest of the cluster's current snapshot
// (xmin:xmax:in-progress transactions): a transaction that writes takes a
// transaction id (xmax moves) and its commit takes it off the in-progress
// list, so any commit anywhere (another instance, an operator's subcommand)
// changes it; read-only work does not. Unlike the write-ahead log's end
// (pg_current_wal_insert_lsn), which moves before a commit is visible, the
// snapshot says exactly what a read started now sees: a commit still in
// flight at one check changes the next one, so a read cached in between is
// dropped then. Other databases' writes only cost a cache miss.
const postgresChangePosition = `SELECT hashtextextended(pg_current_snapshot()::text, 0)`

// txAttempts bounds how often db.tx runs a function that PostgreSQL aborted
// for a serialization failure or a deadlock.
const txAttempts = 20

// retryable tells whether PostgreSQL aborted a transaction that would succeed
// if run again: a serialization failure (40001) or a deadlock (40P01).
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}

// rebindConnector hands out PostgreSQL connections that take the store's
// SQLite-style placeholders, so the queries are written once for both engines.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is pgx's connection with every query's placeholders rewritten
// (and Go bools bound as the 0/1 the integer flag columns hold).
type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(q string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(q)) }

func (c *rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(q))
}

func (c *rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 { // e.g. a migration: PostgreSQL's own text, left as written
		return c.Conn.ExecContext(ctx, q, args)
	}
	return c.Conn.ExecContext(ctx, rebind(q), args)
}

func (c *rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(q), args)
}

func (c *rebindConn) CheckNamedValue(nv *driver.NamedValue) error {
	if b, ok := nv.Value.(bool); ok {
		nv.Value = int64(0)
		if b {
			nv.Value = int64(1)
		}
		return nil
	}
	return c.Conn.CheckNamedValue(nv)
}

// rebind rewrites SQLite placeholders to PostgreSQL's: each `?` becomes the
// next $n, and `?NNN` becomes $NNN. Quoted strings, quoted names and comments
// are left alone. Hand-written because the library rebinders (sqlx.Rebind)
// know neither ?NNN nor quoting, and this is the one place it happens.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		ch := q[i]
		switch {
		case ch == '\'' || ch == '"':
			j := i + 1
			for j < len(q) && q[j] != ch {
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case ch == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case ch == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 {
				b.WriteString("$" + q[i+1:j])
				i = j - 1
			} else {
				n++
				fmt.Fprintf(&b, "$%d", n)
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
