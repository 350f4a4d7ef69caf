package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/internal/pgtest"
	"github.com/bankconnections/portal/store"
)

func TestUserCreateReadsThePasswordFromStdinOrEnv(t *testing.T) {
	dir := t.TempDir()
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	var out bytes.Buffer
	err := run(context.Background(), []string{"user", "create", "-data", dir, "-email", "ops@bank.example", "-role", "admin"},
		env(nil), strings.NewReader("a long password\n"), &out)
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"user", "create", "-data", dir, "-email", "c@bank.example", "-role", "customer", "-customer-guid", strings.Repeat("c", 32)},
		env(map[string]string{"PORTAL_USER_PASSWORD": "from the environment"}), strings.NewReader(""), &out)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for email, pw := range map[string]string{"ops@bank.example": "a long password", "c@bank.example": "from the environment"} {
		u, err := db.UserByEmail(context.Background(), email)
		if err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)) != nil {
			t.Errorf("%s: the stored hash does not match the password given", email)
		}
		if strings.Contains(u.PasswordHash, pw) {
			t.Errorf("%s: the password is stored in clear", email)
		}
	}
	cases := []struct {
		name string
		args []string
		pw   string
		want string
	}{
		{"duplicate", []string{"-email", "ops@bank.example", "-role", "admin"}, "another long one", "already exists"},
		{"short password", []string{"-email", "x@bank.example", "-role", "admin"}, "short", "at least 8"},
		{"customer without guid", []string{"-email", "y@bank.example", "-role", "customer"}, "a long password", "customer-guid"},
		{"no password flag exists", []string{"-email", "z@bank.example", "-role", "admin", "-password", "secret123"}, "a long password", "not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"user", "create", "-data", dir}, tc.args...)
			err := run(context.Background(), args, env(nil), strings.NewReader(tc.pw+"\n"), &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestUserLifecycleCommandsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"user", "create", "-data", dir, "-email", "c@bank.example", "-role", "customer", "-customer-guid", strings.Repeat("c", 32)},
		env(nil), strings.NewReader("a long password\n"), &out); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		pw   string
		want string
	}{
		{"unknown subcommand", []string{"user", "delete", "-email", "c@bank.example"}, "", "usage"},
		{"sessions without revoke", []string{"user", "sessions", "-email", "c@bank.example"}, "", "usage"},
		{"no email", []string{"user", "disable", "-data", dir}, "", "-email"},
		{"unknown email", []string{"user", "disable", "-data", dir, "-email", "nobody@bank.example"}, "", "no user with email nobody@bank.example"},
		{"mistyped data folder", []string{"user", "sessions", "revoke", "-data", filepath.Join(dir, "nope"), "-email", "c@bank.example"}, "", "no portal database"},
		{"short password", []string{"user", "set-password", "-data", dir, "-email", "c@bank.example"}, "short", "at least 8"},
		{"stray argument", []string{"user", "enable", "-data", dir, "-email", "c@bank.example", "extra"}, "", "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(ctx, tc.args, env(nil), strings.NewReader(tc.pw+"\n"), &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	db, err := store.Open(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, "c@bank.example")
	if err != nil || u.Disabled || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("a long password")) != nil {
		t.Fatalf("after refused commands: got disabled=%v, password changed or %v; want nothing changed", u.Disabled, err)
	}
}

// With a PostgreSQL URL the subcommands work on that database, not on -data.
func TestUserSubcommandsUseTheDatabaseURL(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	dir := t.TempDir()
	env := func(k string) string {
		return map[string]string{"PORTAL_DATABASE_URL": url, "PORTAL_USER_PASSWORD": "a long password"}[k]
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"user", "create", "-data", dir, "-email", "ops@bank.example", "-role", "admin"}, env, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"user", "disable", "-data", dir, "-email", "OPS@bank.example"}, env, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "portal.db")); err == nil {
		t.Error("a SQLite file was made in -data although a database URL was given")
	}
	db, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, "ops@bank.example")
	if err != nil {
		t.Fatalf("the user created through the subcommand: %v", err)
	}
	if !u.Disabled {
		t.Error("user disable -email OPS@…: got the user enabled, want disabled (emails match regardless of case)")
	}
}
