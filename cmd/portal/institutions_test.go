package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	simplaid "github.com/bankconnections/portal/sim/plaid"
)

// The lookup asks the Plaid stand-in over real HTTP through plaid-go.
func TestPlaidInstitutionLookup(t *testing.T) {
	sp, err := simplaid.New(simplaid.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sp.Handler())
	t.Cleanup(func() { ts.Close(); sp.Close() })
	lookup, err := plaidInstitutions(ts.URL, sp.ClientID(), sp.Secret(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if name, err := lookup(ctx, "ins_109508"); err != nil || name != "First Platypus Bank" {
		t.Fatalf("ins_109508: got %q, %v", name, err)
	}
	if _, err := lookup(ctx, "ins_000000"); err == nil || !strings.Contains(err.Error(), "INVALID_INSTITUTION") {
		t.Fatalf("unknown institution: got %v, want Plaid's INVALID_INSTITUTION", err)
	}
	bad, err := plaidInstitutions(ts.URL, sp.ClientID(), "wrong-secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad(ctx, "ins_109508"); err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("wrong secret: got %v, want an error that does not echo the secret", err)
	}
}
