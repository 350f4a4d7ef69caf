package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/bankconnections/portal/internal/pgtest"
)

// EachEngine runs test once per engine, as subtests "sqlite" and "postgres",
// each with a fresh database; the PostgreSQL one is skipped with a message
// when PORTAL_TEST_DATABASE_URL is not set. (Exported for the store_test
// package; it exists in test builds only.) Tests left out of it are
// SQLite-only on purpose: EXPLAIN QUERY PLAN, the demo's snapshot, SQLite's
// migrations and files.
func EachEngine(t *testing.T, test func(t *testing.T, db *DB)) {
	t.Helper()
	t.Run(engineSQLite, func(t *testing.T) { test(t, openEngine(t, engineSQLite)) })
	t.Run(enginePostgres, func(t *testing.T) { test(t, openEngine(t, enginePostgres)) })
}

// EachEnginePair runs test once per engine with two handles on one fresh
// database: they stand for two portal instances (or an instance and an
// operator's subcommand) sharing it.
func EachEnginePair(t *testing.T, test func(t *testing.T, first, second *DB)) {
	t.Helper()
	t.Run(engineSQLite, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "portal.db")
		test(t, openAt(t, engineSQLite, path), openAt(t, engineSQLite, path))
	})
	t.Run(enginePostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		test(t, openAt(t, enginePostgres, url), openAt(t, enginePostgres, url))
	})
}

// openEngine opens a fresh database of the engine, closed after the test.
func openEngine(t testing.TB, engine string) *DB {
	t.Helper()
	if engine == enginePostgres {
		return openAt(t, engine, pgtest.URL(t))
	}
	return openAt(t, engine, filepath.Join(t.TempDir(), "portal.db"))
}

// openAt opens the engine's database at where (a file path or a URL), closed after the test.
func openAt(t testing.TB, engine, where string) *DB {
	t.Helper()
	open := Open
	if engine == enginePostgres {
		open = OpenPostgres
	}
	db, err := open(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`DELETE FROM s WHERE e <= ?1 OR r <= ?1`, `DELETE FROM s WHERE e <= $1 OR r <= $1`},
		{`SELECT '?', "a?" FROM t WHERE x = ? -- why?` + "\n AND y = ?", `SELECT '?', "a?" FROM t WHERE x = $1 -- why?` + "\n AND y = $2"},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q): got %q, want %q", c.in, got, c.want)
		}
	}
}
