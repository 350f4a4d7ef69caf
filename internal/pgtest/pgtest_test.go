package pgtest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A database from URL is empty, its own, and gone after the test.
func TestURLGivesAFreshDatabaseDroppedAfterwards(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var tables int
		if err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("tables in a fresh database: got %d, want 0", tables)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		t.Skip("no database was made")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv(EnvURL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test", name)
	}
}

// A connection the test left open does not keep its database from being dropped.
func TestURLDropsADatabaseStillInUse(t *testing.T) {
	var name string
	t.Run("leave a connection open", func(t *testing.T) {
		conn, err := pgx.Connect(context.Background(), URL(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(context.Background(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		t.Skip("no database was made")
	}
	conn, err := pgx.Connect(context.Background(), os.Getenv(EnvURL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s after the test: %d left (%v), want dropped", name, n, err)
	}
}

// stopper stands for a test: it records how URL stopped it.
type stopper struct {
	testing.TB
	skipped, failed string
}

func (s *stopper) Helper() {}

func (s *stopper) Skip(args ...any) { s.skipped = fmt.Sprint(args...); runtime.Goexit() }

func (s *stopper) Fatalf(format string, args ...any) {
	s.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func stopOf(t *testing.T) *stopper {
	s := &stopper{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		URL(s)
	}()
	<-done
	return s
}

// Without a database the PostgreSQL half is skipped with a message a reader
// can act on, unless PostgreSQL is required (CI), then it fails.
func TestURLWithoutADatabaseSkipsUnlessRequired(t *testing.T) {
	t.Setenv(EnvURL, "")
	t.Setenv(EnvRequire, "")
	if s := stopOf(t); !strings.Contains(s.skipped, "PostgreSQL half skipped: set PORTAL_TEST_DATABASE_URL") || s.failed != "" {
		t.Errorf("without %s: got skipped %q, failed %q; want skipped with the message", EnvURL, s.skipped, s.failed)
	}
	t.Setenv(EnvRequire, "1")
	if s := stopOf(t); s.failed == "" || s.skipped != "" {
		t.Errorf("without %s but %s=1: got skipped %q, failed %q; want failed", EnvURL, EnvRequire, s.skipped, s.failed)
	}
}
