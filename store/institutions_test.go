package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

func TestInstitutionsComeFromTheConnections(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		acct := func(i int, instID, name string) store.Account {
			return store.Account{GUID: fmt.Sprintf("%032x", 0xfeed00+i), BankGUID: "bank", Name: "Checking", Asset: "USD", AccountKind: "plaid",
				Environment: "production", InstitutionID: instID, InstitutionName: name, AccountMask: "0000", State: "completed", CreatedAt: now, UpdatedAt: now}
		}
		if _, err := db.UpsertAccounts(ctx, []store.Account{
			acct(1, "ins_2", "Zeta Bank"), acct(2, "ins_2", ""), acct(3, "ins_1", "Alpha Savings"),
			acct(4, "ins_3", ""), acct(5, "", ""),
		}, "test"); err != nil {
			t.Fatal(err)
		}
		got, err := db.Institutions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Institution{{ID: "ins_1", Name: "Alpha Savings"}, {ID: "ins_2", Name: "Zeta Bank"}, {ID: "ins_3"}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("institutions: got %+v, want %+v", got, want)
		}
		unnamed, err := db.UnnamedInstitutions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []store.Institution{{ID: "ins_2", Name: "Zeta Bank"}, {ID: "ins_3"}}; !reflect.DeepEqual(unnamed, want) {
			t.Fatalf("unnamed: got %+v, want %+v", unnamed, want)
		}
		if err := db.NameInstitution(ctx, "ins_2", "Zeta Bank"); err != nil {
			t.Fatal(err)
		}
		if err := db.NameInstitution(ctx, "ins_1", "Renamed"); err != nil {
			t.Fatal(err)
		}
		if a, _ := db.Account(ctx, fmt.Sprintf("%032x", 0xfeed02)); a.InstitutionName != "Zeta Bank" {
			t.Errorf("named: got %q", a.InstitutionName)
		}
		if a, _ := db.Account(ctx, fmt.Sprintf("%032x", 0xfeed03)); a.InstitutionName != "Alpha Savings" {
			t.Errorf("a known name was replaced: got %q", a.InstitutionName)
		}
		// The list follows the store: a new institution appears without restart.
		if _, err := db.UpsertAccounts(ctx, []store.Account{acct(6, "ins_0", "Beta Bank")}, "test"); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Institutions(ctx); len(got) != 4 || got[1].ID != "ins_0" {
			t.Fatalf("after a new connection: got %+v", got)
		}
	})
}
