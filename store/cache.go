package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
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

// readCache keeps the answers of the hottest page reads (a customer's
// connections, banners, queued completions, the sync status, sessions) until
// the next write. Pages read far more often than anything is written, so most
// page views cost no SQLite work at all.
type readCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	gen uint64
	val any
}

const maxCacheEntries = 20_000

// cached returns the answer of load for key, from the cache when no write has
// happened since it was read. Cached values are shared: callers must not
// modify slices they get from a cached read.
func cached[T any](db *DB, key string, load func() (T, error)) (T, error) {
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
