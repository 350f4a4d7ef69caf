package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
)

var registerPause sync.Once

// Concurrent asks share queries, but each caller's answer comes from a query
// that started after it asked: a commit finished before the call is always
// in the version it gets (a request that joined a query already under way
// could miss it, and serve a cached read older than a write it has seen).
func TestChangeWatcherAnswersFromAQueryStartedAfterTheCall(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "watch.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	writes, watch := open(), open()
	if _, err := writes.ExecContext(ctx, `CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	// The version is the counter, read at the query's start (SQLite takes its
	// snapshot then); the query then pauses a millisecond, so callers arrive
	// while one is under way and commits land during it.
	registerPause.Do(func() {
		sqlite.MustRegisterScalarFunction("test_pause_ms", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			time.Sleep(time.Duration(args[0].(int64)) * time.Millisecond)
			return int64(0), nil
		})
	})
	w, err := newChangeWatcher(ctx, watch, `SELECT n + test_pause_ms(1) FROM counter`)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()

	var committed atomic.Int64 // the last value whose commit has returned
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if _, err := writes.ExecContext(ctx, `UPDATE counter SET n = ?`, i); err != nil {
				writerDone <- err
				return
			}
			committed.Store(i)
		}
	}()
	var wg sync.WaitGroup
	var stale atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 150 {
				before := committed.Load()
				v, err := w.version()
				if err != nil {
					t.Error(err)
					return
				}
				if v < before {
					stale.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if n := stale.Load(); n > 0 {
		t.Errorf("%d of 1200 calls got a version older than a commit finished before they asked", n)
	}
}

// The connection that asks for the change version is replaced when it dies
// (a PostgreSQL restart or failover ends every backend): the read cache works
// again from the next request on, instead of missing on every read until the
// portal restarts.
func TestChangeWatcherReconnectsAfterItsConnectionDies(t *testing.T) {
	db := openEngine(t, enginePostgres)
	ctx := context.Background()
	if _, err := db.changes.version(); err != nil {
		t.Fatal(err)
	}
	var ended int
	if err := db.read.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&ended); err != nil || ended == 0 {
		t.Fatalf("terminate the other backends: %d, %v", ended, err)
	}
	db.changes.version() // may fail: the backend is gone
	for i := range 3 {
		if _, err := db.changes.version(); err != nil {
			t.Fatalf("call %d after the backend ended: %v", i, err)
		}
	}
}
