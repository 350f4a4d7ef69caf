package platform_test

import (
	"context"
	"slices"
	"testing"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

func TestPaginationAndFilters(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	alice, bob := h.createCustomer(t), h.createCustomer(t)

	seed := func(customer *string, count int, state string) []string {
		t.Helper()
		guids, err := h.sandbox.SeedAccounts(ctx, simplatform.SeedRequest{CustomerGUID: customer, Count: count, State: state})
		if err != nil || len(guids) != count {
			t.Fatalf("SeedAccounts: got %d guids, %v, want %d", len(guids), err, count)
		}
		return guids
	}
	var all []string // oldest first
	all = append(all, seed(&alice.GUID, 120, rules.Completed)...)
	all = append(all, seed(&alice.GUID, 30, rules.RefreshRequired)...)
	all = append(all, seed(&bob.GUID, 60, rules.Completed)...)
	all = append(all, seed(nil, 40, rules.Completed)...)
	newestFirst := slices.Clone(all)
	slices.Reverse(newestFirst)

	tests := []struct {
		name      string
		params    platform.ListAccountsParams
		wantTotal int
		wantLen   int
		wantFirst string
	}{
		{"first page default size", platform.ListAccountsParams{}, 250, 10, newestFirst[0]},
		{"third page of 100 is short", platform.ListAccountsParams{Page: 2, PerPage: 100}, 250, 50, newestFirst[200]},
		{"past the end", platform.ListAccountsParams{Page: 3, PerPage: 100}, 250, 0, ""},
		{"state completed", platform.ListAccountsParams{PerPage: 100, States: []string{"completed"}}, 220, 100, newestFirst[0]},
		{"customer", platform.ListAccountsParams{PerPage: 100, CustomerGUIDs: []string{alice.GUID}}, 150, 100, all[149]},
		{"customer and state", platform.ListAccountsParams{PerPage: 100, CustomerGUIDs: []string{alice.GUID}, States: []string{"refresh_required"}}, 30, 30, all[149]},
		{"two customers", platform.ListAccountsParams{PerPage: 5, CustomerGUIDs: []string{alice.GUID, bob.GUID}}, 210, 5, all[209]},
		{"states list", platform.ListAccountsParams{PerPage: 5, States: []string{"refresh_required", "deleted"}}, 30, 5, all[149]},
		{"guids", platform.ListAccountsParams{GUIDs: []string{all[0], all[249]}}, 2, 2, all[249]},
		{"bank guid", platform.ListAccountsParams{BankGUIDs: []string{h.sim.BankGUID()}}, 250, 10, newestFirst[0]},
		{"asset", platform.ListAccountsParams{Assets: []string{"EUR"}}, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := h.client.ListExternalBankAccounts(ctx, tt.params)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if list.Total != tt.wantTotal || len(list.Objects) != tt.wantLen || list.Page != tt.params.Page {
				t.Fatalf("got total %d, %d objects, page %d; want total %d, %d objects, page %d",
					list.Total, len(list.Objects), list.Page, tt.wantTotal, tt.wantLen, tt.params.Page)
			}
			if tt.wantFirst != "" && list.Objects[0].GUID != tt.wantFirst {
				t.Errorf("first: got %s, want %s", list.Objects[0].GUID, tt.wantFirst)
			}
		})
	}

	t.Run("each walks every page once", func(t *testing.T) {
		h.requests.reset()
		var got []string
		err := h.client.EachExternalBankAccount(ctx, platform.ListAccountsParams{}, func(a platform.ExternalBankAccount) error {
			got = append(got, a.GUID)
			return nil
		})
		if err != nil {
			t.Fatalf("Each: %v", err)
		}
		if !slices.Equal(got, newestFirst) {
			t.Errorf("Each: got %d accounts, want all 250 newest first", len(got))
		}
		if n := h.requests.count("GET /api/external_bank_accounts"); n != 3 {
			t.Errorf("list requests: got %d, want 3", n)
		}
	})
	t.Run("each with filters", func(t *testing.T) {
		h.requests.reset()
		n := 0
		err := h.client.EachExternalBankAccount(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{bob.GUID, alice.GUID}, States: []string{"completed"}},
			func(platform.ExternalBankAccount) error { n++; return nil })
		if err != nil || n != 180 {
			t.Fatalf("Each: got %d, %v, want 180", n, err)
		}
		if r := h.requests.count("GET /api/external_bank_accounts"); r != 2 {
			t.Errorf("list requests: got %d, want 2", r)
		}
	})
}
