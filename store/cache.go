package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// writer is the one write connection. It counts committed writes: every
// change to the database in this process goes through it, so a read taken
// at generation g is still current while the count is g.
type writer struct {
	*sql.DB
	gen atomic.Uint64
}

// ExecContext runs one write statement and counts it.
func (w *writer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := w.DB.ExecContext(ctx, q, args...)
	w.gen.Add(1)
	return res, err
}

// insertID runs one INSERT … RETURNING id, counts it and gives the new row's id.
func (w *writer) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := w.DB.QueryRowContext(ctx, q, args...).Scan(&id)
	w.gen.Add(1)
	return id, err
}

// changeWatcher tells whether anyone, in this process or another one sharing
// the database, has committed since a version was read. On SQLite it asks
// data_version, which changes for a connection whenever another connection
// commits (this connection never writes, so every commit anywhere moves it);
// on PostgreSQL it asks for a digest of the current snapshot
// (postgresChangePosition), which any commit by any instance changes.
//
// Every signed-in request asks, so concurrent asks share one query: a caller
// waits for the next query that starts after it asked (never one already
// under way, which might have run before a commit the caller has seen), so
// however many requests ask at once, the one connection runs at most two
// queries for them instead of one each in turn.
type changeWatcher struct {
	db       *sql.DB
	position string

	mu       sync.Mutex
	conn     *sql.Conn // replaced by the query that finds it dead (see ask)
	stmt     *sql.Stmt
	closed   bool
	inFlight *versionCheck // the query under way, if any
	queued   *versionCheck // the next one, to start when inFlight ends: callers join it

	// onChange is called when a check finds the version moved (or cannot
	// tell), before any caller of that check returns.
	onChange func()
	seen     int64        // the version last looked at; only the running check uses it
	lookedAt atomic.Int64 // when a check last returned, in Unix nanoseconds
}

// versionCheck is one query of the change version; done closes when v and
// err are set.
type versionCheck struct {
	done chan struct{}
	v    int64
	err  error
}

// newChangeWatcher prepares position, the engine's query for its change
// version (a number that moves whenever anyone commits), on a connection of
// db's own; onChange is told of every move.
func newChangeWatcher(ctx context.Context, db *sql.DB, position string, onChange func()) (*changeWatcher, error) {
	w := &changeWatcher{db: db, position: position, onChange: onChange}
	if err := w.connect(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// connect takes a connection from the watcher's pool (of one) and prepares
// the query on it, in place of the previous one, which it gives back first.
func (w *changeWatcher) connect(ctx context.Context) error {
	w.mu.Lock()
	if w.conn != nil {
		w.stmt.Close()
		w.conn.Close()
		w.conn, w.stmt = nil, nil
	}
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return errors.New("store closed")
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	stmt, err := conn.PrepareContext(ctx, w.position)
	if err != nil {
		conn.Close()
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		stmt.Close()
		conn.Close()
		return errors.New("store closed")
	}
	w.conn, w.stmt = conn, stmt
	return nil
}

// askTimeout bounds one query of the change version (and a reconnect), so a
// database that stopped answering holds a signed-in request here for
// seconds, not for as long as the connection takes to fail.
const askTimeout = 5 * time.Second

// ask runs the query; one caller at a time (see version). A connection
// that died (a database restart or failover ends every backend) is replaced
// and asked once more, so the cache keeps working once the database is back.
func (w *changeWatcher) ask() (int64, error) {
	query := func() (int64, error) {
		w.mu.Lock()
		stmt := w.stmt
		w.mu.Unlock()
		if stmt == nil { // the last connect failed
			return 0, errors.New("no connection")
		}
		ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
		defer cancel()
		var v int64
		err := stmt.QueryRowContext(ctx).Scan(&v)
		return v, err
	}
	v, err := query()
	if err == nil {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	if cerr := w.connect(ctx); cerr != nil {
		return 0, errors.Join(err, cerr)
	}
	return query()
}

// version returns the database's change version as of a query that started
// after the call, once onChange has been told if it moved.
func (w *changeWatcher) version() (int64, error) {
	w.mu.Lock()
	if c := w.queued; c != nil { // not started yet: it will see what this caller has seen
		w.mu.Unlock()
		<-c.done
		return c.v, c.err
	}
	c := &versionCheck{done: make(chan struct{})}
	prev := w.inFlight
	if prev == nil {
		w.inFlight = c
	} else {
		w.queued = c
	}
	w.mu.Unlock()
	if prev != nil {
		<-prev.done
		w.mu.Lock()
		w.inFlight, w.queued = c, nil // from here on, callers start a new queued check
		w.mu.Unlock()
	}
	c.v, c.err = w.ask()
	// Every caller of c wakes at once: the change is reported before any of
	// them returns, so none reads the cache before it was dropped. One check
	// runs at a time, so seen follows the checks in order.
	if c.err != nil || c.v != w.seen {
		w.onChange()
		if c.err == nil {
			w.seen = c.v
		}
	}
	w.mu.Lock()
	if w.inFlight == c {
		w.inFlight = nil
	}
	w.mu.Unlock()
	close(c.done)
	return c.v, c.err
}

func (w *changeWatcher) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.conn == nil {
		return nil
	}
	w.stmt.Close()
	err := w.conn.Close()
	w.conn, w.stmt = nil, nil
	return err
}

// readCache keeps the answers of the hottest page reads (a customer's
// connections, banners, queued completions, the sync status, sessions) until
// the next write, by this process or any other sharing the file (another
// process's write is seen through changeWatcher at the start of each
// signed-in request). Pages read far more often than anything is written, so
// most page views cost one tiny pragma instead of their queries.
type readCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	gen uint64
	val any
}

// otherWritesBound is how old a look at other connections' writes may be
// for a read outside a request (background work); requests look first.
const otherWritesBound = time.Second

// SeeOtherWrites makes the read cache drop everything when any other
// connection (another process sharing the file or the PostgreSQL database:
// another portal instance, an operator's subcommand) has committed since the
// last look. SessionUser calls it, so each signed-in request starts from what
// is committed now; it costs one small query on a connection of its own.
func (db *DB) SeeOtherWrites() {
	db.changes.version() // a move, or an error, makes every cached answer stale
	db.changes.lookedAt.Store(time.Now().UnixNano())
}

const maxCacheEntries = 20_000

// cached returns the answer of load for key, from the cache when no write has
// happened since it was read. Cached values are shared: callers must not
// modify slices they get from a cached read.
func cached[T any](db *DB, key string, load func() (T, error)) (T, error) {
	if time.Now().UnixNano()-db.changes.lookedAt.Load() > int64(otherWritesBound) {
		db.SeeOtherWrites()
	}
	gen := db.write.gen.Load() // before the read: a write during it makes the entry stale at once
	db.cache.mu.Lock()
	e, ok := db.cache.entries[key]
	db.cache.mu.Unlock()
	if ok && e.gen == gen {
		return e.val.(T), nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	db.cache.mu.Lock()
	if db.cache.entries == nil || len(db.cache.entries) >= maxCacheEntries {
		db.cache.entries = map[string]cacheEntry{}
	}
	db.cache.entries[key] = cacheEntry{gen: gen, val: v}
	db.cache.mu.Unlock()
	return v, nil
}
