package platform_test

import (
	"context"
	"testing"

	"github.com/bankconnections/portal/platform"
)

func TestCustomerTokensSeeOnlyTheirCustomer(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	alice, bob := h.createCustomer(t), h.createCustomer(t)
	alicesAccount := h.linkAccount(t, alice.GUID, "alice")
	bobsAccount := h.linkAccount(t, bob.GUID, "bob")
	bankAccount := h.linkAccount(t, "", "bank")

	scopes := []string{platform.ScopeExternalBankAccountsRead, platform.ScopeExternalBankAccountsWrite,
		platform.ScopeExternalBankAccountsExecute, platform.ScopeWorkflowsRead, platform.ScopeWorkflowsExecute, platform.ScopeCustomersRead}
	asAlice := h.client.ForCustomer(alice.GUID, scopes)

	list, err := asAlice.ListExternalBankAccounts(ctx, platform.ListAccountsParams{})
	if err != nil || list.Total != 1 || list.Objects[0].GUID != alicesAccount.GUID {
		t.Fatalf("alice's list: got %+v, %v, want only her account", list, err)
	}
	list, err = asAlice.ListExternalBankAccounts(ctx, platform.ListAccountsParams{CustomerGUIDs: []string{bob.GUID}})
	if err != nil || list.Total != 0 {
		t.Errorf("alice filtering on bob: got total %d, %v, want 0", list.Total, err)
	}

	tests := []struct {
		name string
		call func() error
		code int
	}{
		{"get bob's account", func() error {
			_, err := asAlice.GetExternalBankAccount(ctx, bobsAccount.GUID, platform.GetAccountOptions{})
			return err
		}, 404},
		{"get the bank's account", func() error {
			_, err := asAlice.GetExternalBankAccount(ctx, bankAccount.GUID, platform.GetAccountOptions{})
			return err
		}, 404},
		{"patch bob's account", func() error {
			_, err := asAlice.PatchExternalBankAccount(ctx, bobsAccount.GUID, platform.PatchAccountRequest{State: "refresh_required"})
			return err
		}, 404},
		{"delete bob's account", func() error {
			_, err := asAlice.DeleteExternalBankAccount(ctx, bobsAccount.GUID)
			return err
		}, 404},
		{"get bob", func() error { _, err := asAlice.GetCustomer(ctx, bob.GUID, false); return err }, 404},
		{"update workflow on bob's account", func() error {
			_, err := asAlice.CreateWorkflow(ctx, platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenUpdate, ExternalBankAccountGUID: bobsAccount.GUID})
			return err
		}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !platform.IsNotFound(err) {
				t.Errorf("got %v, want 404 not_found", err)
			}
		})
	}

	t.Run("alice's own calls work", func(t *testing.T) {
		if _, err := asAlice.GetExternalBankAccount(ctx, alicesAccount.GUID, platform.GetAccountOptions{}); err != nil {
			t.Errorf("get own account: %v", err)
		}
		wf, err := asAlice.CreateWorkflow(ctx, platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenCreate})
		if err != nil || wf.CustomerGUID == nil || *wf.CustomerGUID != alice.GUID {
			t.Fatalf("create workflow: got %+v, %v, want one for alice", wf, err)
		}
		a, err := asAlice.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: "Mine", AccountKind: "plaid", Asset: "USD",
			PlaidPublicToken: "public-alice2", PlaidAccountID: "acct-alice2"})
		if err != nil || a.CustomerGUID == nil || *a.CustomerGUID != alice.GUID {
			t.Errorf("create account: got %+v, %v, want it owned by alice", a, err)
		}
	})

	t.Run("customer token needs a bank token with customers scopes", func(t *testing.T) {
		readOnly := h.newClient(func(c *platform.Config) { c.Scopes = []string{platform.ScopeCustomersRead} })
		_, err := readOnly.CreateCustomerToken(ctx, alice.GUID, scopes)
		wantError(t, err, 403, platform.CodeInvalidScopes)
		_, err = asAlice.CreateCustomerToken(ctx, alice.GUID, scopes)
		wantError(t, err, 403, platform.CodeInvalidScopes) // alice's token has no customers:write
		_, err = h.client.CreateCustomerToken(ctx, "0123456789abcdef0123456789abcdef", scopes)
		wantError(t, err, 422, platform.CodeNoCustomer)
	})
}
