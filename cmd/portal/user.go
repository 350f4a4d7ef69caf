package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/store"
)

const userUsage = `usage:
  portal user create -email EMAIL -role customer|admin [-customer-guid GUID] [-data DIR | -database-url URL]
  portal user set-password -email EMAIL [-data DIR | -database-url URL]
  portal user disable -email EMAIL [-data DIR | -database-url URL]
  portal user enable -email EMAIL [-data DIR | -database-url URL]
  portal user sessions revoke -email EMAIL [-data DIR | -database-url URL]
Passwords come from PORTAL_USER_PASSWORD or the first line of stdin, never a flag.
Every command but create and enable signs the user out everywhere at once,
also in a portal running on the same data folder or database.
-database-url (default PORTAL_DATABASE_URL) names the portal's PostgreSQL
database; without it the SQLite database in -data is used.`

// runUser is the operator's subcommand for the user lifecycle. It works on
// the database file directly, so it runs next to a live portal: the portal
// sees each change from its next request on (see store.SeeOtherWrites).
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(userUsage)
	}
	cmd, rest := args[0], args[1:]
	if cmd == "sessions" {
		if len(rest) == 0 || rest[0] != "revoke" {
			return errors.New(userUsage)
		}
		cmd, rest = "sessions revoke", rest[1:]
	}
	switch cmd {
	case "create", "set-password", "disable", "enable", "sessions revoke":
	default:
		return errors.New(userUsage)
	}
	fs := flag.NewFlagSet("user "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := getenv("PORTAL_DATA_DIR")
	if dataDir == "" {
		dataDir = "./data"
	}
	databaseURL := fs.String("database-url", getenv("PORTAL_DATABASE_URL"), "postgres:// URL of the portal's PostgreSQL database; empty: SQLite in -data")
	email := fs.String("email", "", "the user's email")
	role, customer := new(string), new(string)
	if cmd == "create" {
		fs.StringVar(role, "role", store.RoleCustomer, "customer or admin")
		fs.StringVar(customer, "customer-guid", "", "the customer's platform guid (customers only)")
	}
	fs.StringVar(&dataDir, "data", dataDir, "the portal's data directory")
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("%w\n%s", err, userUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), userUsage)
	}
	if err := checkDatabaseURL(*databaseURL); err != nil {
		return err
	}
	readPassword := func() (string, error) {
		if pw := getenv("PORTAL_USER_PASSWORD"); pw != "" {
			return pw, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if cmd == "create" {
		password, err := readPassword()
		if err != nil {
			return err
		}
		u, err := newUser(*email, password, *role, *customer)
		if err != nil {
			return err
		}
		db, err := openStore(ctx, *databaseURL, dataDir)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a user with email %s already exists", u.Email)
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s %s\n", u.Role, u.Email)
		return nil
	}

	if strings.TrimSpace(*email) == "" {
		return errors.New("give the user's -email")
	}
	var hash []byte
	if cmd == "set-password" {
		password, err := readPassword()
		if err != nil {
			return err
		}
		if err := checkPassword(password); err != nil {
			return err
		}
		if hash, err = bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost); err != nil {
			return err
		}
	}
	// Never create the database here: a mistyped -data must not look like success.
	if *databaseURL == "" {
		if _, err := os.Stat(filepath.Join(dataDir, "portal.db")); err != nil {
			return fmt.Errorf("no portal database in %s: check -data", dataDir)
		}
	}
	db, err := openStore(ctx, *databaseURL, dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, strings.TrimSpace(*email))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user with email %s", strings.TrimSpace(*email))
	}
	if err != nil {
		return err
	}
	switch cmd {
	case "set-password":
		if err := db.SetPassword(ctx, u.ID, string(hash)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password changed for %s; every session of the user was signed out\n", u.Email)
	case "disable":
		if err := db.SetDisabled(ctx, u.ID, true); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disabled %s; every session of the user was signed out\n", u.Email)
	case "enable":
		if err := db.SetDisabled(ctx, u.ID, false); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "enabled %s\n", u.Email)
	case "sessions revoke":
		n, err := db.RevokeUserSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signed out %s: %d live sessions ended\n", u.Email, n)
	}
	return nil
}

// checkPassword applies the length rules of every password the portal sets.
func checkPassword(password string) error {
	switch {
	case len(password) < handlers.MinPasswordLength:
		return fmt.Errorf("the password must have at least %d characters", handlers.MinPasswordLength)
	case len(password) > handlers.MaxPasswordLength:
		return fmt.Errorf("the password must have at most %d characters", handlers.MaxPasswordLength)
	}
	return nil
}

// newUser validates a user and hashes the password with bcrypt.
func newUser(email, password, role, customerGUID string) (store.User, error) {
	email = strings.TrimSpace(email)
	switch {
	case email == "" || !strings.Contains(email, "@"):
		return store.User{}, errors.New("give a valid -email")
	case checkPassword(password) != nil:
		return store.User{}, checkPassword(password)
	case role != store.RoleCustomer && role != store.RoleAdmin:
		return store.User{}, errors.New("-role must be customer or admin")
	case role == store.RoleCustomer && customerGUID == "":
		return store.User{}, errors.New("a customer needs -customer-guid")
	case role == store.RoleAdmin && customerGUID != "":
		return store.User{}, errors.New("an admin has no -customer-guid")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return store.User{}, err
	}
	return store.User{Email: email, PasswordHash: string(hash), Role: role, CustomerGUID: customerGUID}, nil
}
