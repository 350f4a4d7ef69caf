package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/store"
)

// runUser is the operator's subcommand: `portal user create -email ... -role ...`.
// The password comes from PORTAL_USER_PASSWORD or the first line of stdin, never a flag.
func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: portal user create -email EMAIL -role customer|admin [-customer-guid GUID] [-data DIR] (password from PORTAL_USER_PASSWORD or stdin)")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	dataDir := getenv("PORTAL_DATA_DIR")
	if dataDir == "" {
		dataDir = "./data"
	}
	email := fs.String("email", "", "the user's email")
	role := fs.String("role", store.RoleCustomer, "customer or admin")
	customer := fs.String("customer-guid", "", "the customer's platform guid (customers only)")
	fs.StringVar(&dataDir, "data", dataDir, "the portal's data directory")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	password := getenv("PORTAL_USER_PASSWORD")
	if password == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
	}
	u, err := newUser(*email, password, *role, *customer)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(dataDir, "portal.db"))
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

// newUser validates a user and hashes the password with bcrypt.
func newUser(email, password, role, customerGUID string) (store.User, error) {
	email = strings.TrimSpace(email)
	switch {
	case email == "" || !strings.Contains(email, "@"):
		return store.User{}, errors.New("give a valid -email")
	case len(password) < 8:
		return store.User{}, errors.New("the password must have at least 8 characters")
	case len(password) > 72:
		return store.User{}, errors.New("the password must have at most 72 characters")
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
