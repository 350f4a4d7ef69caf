// Package pgtest gives a test a fresh, empty PostgreSQL database of its own,
// created from the admin URL in PORTAL_TEST_DATABASE_URL and dropped when the
// test ends. Without that variable the test is skipped (so `go test ./...`
// works on a machine without PostgreSQL), unless PORTAL_REQUIRE_POSTGRES=1.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the admin URL (a database the tests may
// connect to and a role that may create databases).
const EnvURL = "PORTAL_TEST_DATABASE_URL"

// EnvRequire names the variable that, set to 1, makes a missing EnvURL fail
// the test instead of skipping it (CI, where PostgreSQL must run).
const EnvRequire = "PORTAL_REQUIRE_POSTGRES"

// URL creates a fresh empty database and returns its URL; the database is
// dropped in t.Cleanup, its remaining connections ended.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s is not set", EnvRequire, EnvURL)
		}
		t.Skip("PostgreSQL half skipped: set " + EnvURL + "=postgres://… to run it")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "portal_test_" + hex.EncodeToString(b[:])
	exec(t, admin, `CREATE DATABASE `+name)
	// FORCE ends the connections still open (a pool, a portal process the
	// test left running) in the same step, so none can come back in between.
	t.Cleanup(func() { exec(t, admin, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`) })
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the admin database.
func exec(t testing.TB, admin, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
