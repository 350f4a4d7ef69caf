package main

import (
	"context"
	"time"

	"portal/store"
)

type demoLogin struct{ Email, Password, Note string }

var demoLogins = []demoLogin{
	{"alice@example.com", "demo-alice", "customer: connections in four states"},
	{"bob@example.com", "demo-bob", "customer: a connected and a failed connection"},
	{"admin@example.com", "demo-admin", "admin: bank-connections tab"},
}

// seedDemo creates the demo users and connections once.
func seedDemo(ctx context.Context, db *store.DB) ([]demoLogin, error) {
	n, err := db.CountUsers(ctx)
	if err != nil || n > 0 {
		return demoLogins, err
	}
	alice, bob := "a11ce000000000000000000000000001", "b0b00000000000000000000000000002"
	for i, l := range demoLogins {
		cust := []string{alice, bob, ""}[i]
		role := store.RoleCustomer
		if cust == "" {
			role = store.RoleAdmin
		}
		u, err := newUser(l.Email, l.Password, role, cust)
		if err != nil {
			return nil, err
		}
		if _, err := db.CreateUser(ctx, u); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	acct := func(guid, cust, inst, name, mask, state, failure string) store.Account {
		return store.Account{GUID: guid, BankGUID: "ba0c0000000000000000000000000000", CustomerGUID: cust, Name: name, Asset: "USD",
			AccountKind: "plaid", Environment: "sandbox", InstitutionName: inst, AccountName: name, AccountMask: mask,
			State: state, FailureCode: failure, CreatedAt: now, UpdatedAt: now}
	}
	_, err = db.UpsertAccounts(ctx, []store.Account{
		acct("a0000000000000000000000000000001", alice, "First Platypus Bank", "Plaid Checking", "0000", "completed", ""),
		acct("a0000000000000000000000000000002", alice, "Tattersall Federal Credit Union", "Plaid Saving", "1111", "refresh_required", ""),
		acct("a0000000000000000000000000000003", alice, "Houndstooth Bank", "Plaid Checking", "2222", "unverified", ""),
		acct("a0000000000000000000000000000004", alice, "Platypus OAuth Bank", "Plaid Checking", "3333", "storing", ""),
		acct("b0000000000000000000000000000001", bob, "First Platypus Bank", "Plaid Checking", "4444", "completed", ""),
		acct("b0000000000000000000000000000002", bob, "First Platypus Bank", "Plaid Checking", "4444", "failed", "duplicate"),
	}, "seed")
	return demoLogins, err
}
