package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/pgtest"
	"github.com/bankconnections/portal/store"
)

// The demo on PostgreSQL (PORTAL_DATABASE_URL): it seeds, serves, and a
// reconnect in a real browser ends Connected, all stored in that database
// (none in the data folder); the SQLite-only reset is off and says so.
func TestBrowserDemoOnPostgreSQL(t *testing.T) {
	url := pgtest.URL(t) // first, so the database is dropped after the portal stops
	p := startPortal(t, "PORTAL_DATABASE_URL="+url)
	if logs := p.stderr.String(); !strings.Contains(logs, `"engine":"postgres"`) || !strings.Contains(logs, "SQLite-only; off with PostgreSQL") {
		t.Errorf("the log does not say the store is PostgreSQL with the demo reset off:\n%s", logs)
	}
	if strings.Contains(p.stderr.String(), url) {
		t.Error("the log holds the database URL")
	}
	ctx := newBrowser(t)
	guid, frame := reconnectAlicesExpired(t, ctx, p)
	plaidLogin(t, frame, "user_good", "pass_good")
	waitFor(t, ctx, 60*time.Second, "the row to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)

	db, err := store.OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByEmail(context.Background(), "alice@example.com")
	if err != nil {
		t.Fatalf("alice in the PostgreSQL database: %v", err)
	}
	a, err := db.CustomerAccount(context.Background(), u.CustomerGUID, guid)
	if err != nil || a.State != store.StateCompleted {
		t.Errorf("the reconnected connection in PostgreSQL: got %q, %v; want completed", a.State, err)
	}
	if _, err := os.Stat(filepath.Join(p.DataDir, "portal.db")); err == nil {
		t.Error("a SQLite file was made in the data folder although a database URL was given")
	}
}
