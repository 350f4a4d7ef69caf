package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"
)

var (
	registerPause sync.Once
	pauses        atomic.Int64 // queries that ran test_pause_ms
)

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
			pauses.Add(1)
			time.Sleep(time.Duration(args[0].(int64)) * time.Millisecond)
			return int64(0), nil
		})
	})
	pauses.Store(0)
	w, err := newChangeWatcher(ctx, watch, `SELECT n + test_pause_ms(2) FROM counter`, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()

	const callers, calls = 8, 250
	stale := readsDuringWrites(t, callers, calls, func(i int64) error {
		_, err := writes.ExecContext(ctx, `UPDATE counter SET n = ?`, i)
		return err
	}, w.version)
	if stale > 0 {
		t.Errorf("%d of %d calls got a version older than a commit finished before they asked", stale, callers*calls)
	}
	// The calls shared queries (one each would be callers*calls).
	if q := pauses.Load(); q >= callers*calls*3/4 {
		t.Errorf("%d queries for %d concurrent calls: they were not shared", q, callers*calls)
	}
}

// A check that finds the version moved reports it before any of its callers
// returns: callers that shared the check wake together, and one that read
// the cache before another had reported the change would serve a stale read.
func TestChangeWatcherReportsAMoveBeforeReturning(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "watch.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var moves atomic.Int64
	w, err := newChangeWatcher(ctx, db, `SELECT n FROM counter`, func() { moves.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	check := func(step string, wantMoves int64) {
		t.Helper()
		var wg sync.WaitGroup
		for range 4 { // callers that may share the check
			wg.Go(func() {
				if _, err := w.version(); err != nil {
					t.Error(err)
				}
				if got := moves.Load(); got < wantMoves {
					t.Errorf("%s: version returned before the move was reported (%d reported, want %d)", step, got, wantMoves)
				}
			})
		}
		wg.Wait()
		if got := moves.Load(); got != wantMoves {
			t.Errorf("%s: %d moves reported, want %d", step, got, wantMoves)
		}
	}
	check("first look", 1) // from nothing seen to 1
	check("no commit since", 1)
	if _, err := db.ExecContext(ctx, `UPDATE counter SET n = 2`); err != nil {
		t.Fatal(err)
	}
	check("after a commit", 2)
	check("no commit since, again", 2)
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
	if err := db.read.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
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

// Requests of one instance that start together while another instance
// writes: each one's cached read is at least as new as every write committed
// before it started (the requests share their change checks, and one of them
// must not read the cache before the one that saw the change has dropped it).
func TestConcurrentRequestsSeeEveryEarlierWriteOfAnotherInstance(t *testing.T) {
	EachEnginePair(t, func(t *testing.T, portal, other *DB) {
		ctx := context.Background()
		if err := other.RecordJob(ctx, "probe", "0"); err != nil {
			t.Fatal(err)
		}
		const requests, each = 8, 150
		stale := readsDuringWrites(t, requests, each, func(i int64) error {
			return other.RecordJob(ctx, "probe", strconv.FormatInt(i, 10))
		}, func() (int64, error) {
			portal.SeeOtherWrites() // what SessionUser does first
			j, err := portal.Job(ctx, "probe")
			n, _ := strconv.ParseInt(j.LastError, 10, 64)
			return n, err
		})
		if stale > 0 {
			t.Errorf("%d of %d reads were older than a write committed before they started", stale, requests*each)
		}
	})
}

// readsDuringWrites runs write(1), write(2), … one after another while
// readers goroutines each call read each times, and counts the reads that
// returned less than the last i whose write had returned before the read
// began.
func readsDuringWrites(t *testing.T, readers, each int, write func(i int64) error, read func() (int64, error)) int64 {
	t.Helper()
	var committed atomic.Int64 // the last i whose write has returned
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
			if err := write(i); err != nil {
				writerDone <- err
				return
			}
			committed.Store(i)
		}
	}()
	var wg sync.WaitGroup
	var stale atomic.Int64
	for range readers {
		wg.Go(func() {
			for range each {
				before := committed.Load()
				v, err := read()
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
	return stale.Load()
}
