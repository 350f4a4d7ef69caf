package platform_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

func TestAccountLifecycle(t *testing.T) {
	h, cust := newHarnessWithCustomer(t)
	ctx := context.Background()

	got, err := h.client.GetCustomer(ctx, cust.GUID, true)
	if err != nil {
		t.Fatalf("GetCustomer: %v", err)
	}
	if got.Name == nil || got.Name.First == nil || *got.Name.First != "Ada" || got.EmailAddress == nil || *got.EmailAddress != "ada@example.com" {
		t.Errorf("GetCustomer pii: got %+v, want Ada / ada@example.com", got)
	}
	customers, err := h.client.ListCustomers(ctx, platform.ListCustomersParams{})
	if err != nil || customers.Total != 1 || customers.Objects[0].GUID != cust.GUID {
		t.Errorf("ListCustomers: got %+v, %v, want the one customer", customers, err)
	}

	// Link token for create mode.
	var linkReq simplatform.LinkTokenRequest
	h.plaid.createLinkToken = func(_ context.Context, req simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
		linkReq = req
		return simplatform.LinkToken{Token: "link-sandbox-create"}, nil
	}
	wf, err := h.client.CreateWorkflow(ctx, platform.CreateWorkflowRequest{
		Kind: platform.WorkflowKindLinkTokenCreate, Language: "en", LinkCustomizationName: "default",
		CustomerGUID: cust.GUID, RedirectURI: "https://portal.example/link/oauth",
	})
	if err != nil {
		t.Fatalf("CreateWorkflow: %v", err)
	}
	if wf.State != platform.WorkflowStateStoring || wf.PlaidLinkToken != nil {
		t.Errorf("created workflow: got state %q token %v, want storing and no token", wf.State, wf.PlaidLinkToken)
	}
	wf = h.waitForWorkflow(t, wf.GUID)
	if wf.State != platform.WorkflowStateCompleted || wf.PlaidLinkToken == nil || *wf.PlaidLinkToken != "link-sandbox-create" {
		t.Fatalf("workflow: got %q token %v, want completed with link-sandbox-create", wf.State, wf.PlaidLinkToken)
	}
	if linkReq.ClientUserID != cust.GUID || linkReq.AccessToken != "" || linkReq.RedirectURI != "https://portal.example/link/oauth" {
		t.Errorf("link token request: got %+v, want create mode for the customer", linkReq)
	}
	wfs, err := h.client.ListWorkflows(ctx, platform.ListWorkflowsParams{CustomerGUIDs: []string{cust.GUID}})
	if err != nil || wfs.Total != 1 || wfs.Objects[0].GUID != wf.GUID {
		t.Errorf("ListWorkflows: got %+v, %v, want the one workflow", wfs, err)
	}

	// Create the account: storing, then completed.
	a := h.linkAccount(t, cust.GUID, "one")
	if a.State != rules.Storing || a.PlaidAccountMask != "1234" || a.PlaidInstitutionID != "ins_109508" {
		t.Errorf("created account: got %+v, want storing ins_109508 / 1234", a)
	}
	h.waitForState(t, a.GUID, rules.Completed)

	a, err = h.client.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{IncludeBalances: true})
	if err != nil {
		t.Fatalf("GetExternalBankAccount: %v", err)
	}
	if a.Balances == nil || a.Balances.Available != nil || a.BalanceUpdatedAt != nil {
		t.Errorf("balances before refresh: got %+v / %v, want an object of nulls", a.Balances, a.BalanceUpdatedAt)
	}
	a, err = h.client.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{ForceBalanceRefresh: true})
	if err != nil {
		t.Fatalf("force refresh: %v", err)
	}
	if a.Balances == nil || a.Balances.Available == nil || *a.Balances.Available != 12_345 || a.BalanceUpdatedAt == nil {
		t.Errorf("balances after refresh: got %+v / %v, want available 12345 and a time", a.Balances, a.BalanceUpdatedAt)
	}

	// The bank login expires: a forced refresh answers 422 and the account needs a refresh.
	h.plaid.refreshTransactions = func(context.Context, string) error {
		return &simplatform.PlaidError{Type: "ITEM_ERROR", Code: "ITEM_LOGIN_REQUIRED"}
	}
	_, err = h.client.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{ForceBalanceRefresh: true})
	wantError(t, err, 422, platform.CodeInvalidValue)
	if !platform.IsRefreshRequired(err) {
		t.Errorf("IsRefreshRequired(%v): got false, want true", err)
	}
	h.waitForState(t, a.GUID, rules.RefreshRequired)

	// Update mode for the account.
	wf, err = h.client.CreateWorkflow(ctx, platform.CreateWorkflowRequest{
		Kind: platform.WorkflowKindLinkTokenUpdate, CustomerGUID: cust.GUID, ExternalBankAccountGUID: a.GUID,
	})
	if err != nil {
		t.Fatalf("CreateWorkflow update: %v", err)
	}
	if wf = h.waitForWorkflow(t, wf.GUID); wf.State != platform.WorkflowStateCompleted {
		t.Fatalf("update workflow: got %q, want completed", wf.State)
	}
	if linkReq.AccessToken != "access-one" || linkReq.AccountSelection {
		t.Errorf("update link token request: got %+v, want the Item's access token without account selection", linkReq)
	}

	// Only the PATCH clears refresh_required; it is idempotent.
	for range 2 {
		a, err = h.client.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.Completed})
		if err != nil || a.State != rules.Completed {
			t.Fatalf("PATCH completed: got %q, %v, want completed", a.State, err)
		}
	}
	name := "Renamed"
	a, err = h.client.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.RefreshRequired, Name: &name})
	if err != nil || a.State != rules.RefreshRequired || a.Name != "Renamed" {
		t.Fatalf("PATCH refresh_required: got %q %q, %v, want refresh_required Renamed", a.State, a.Name, err)
	}
	if n := h.plaid.called("ResetLogin"); n != 1 {
		t.Errorf("ResetLogin calls: got %d, want 1", n)
	}

	a, err = h.client.DeleteExternalBankAccount(ctx, a.GUID)
	if err != nil || a.State != rules.Deleting {
		t.Fatalf("DELETE: got %q, %v, want deleting", a.State, err)
	}
	h.waitForState(t, a.GUID, rules.Deleted)
	if n := h.plaid.called("RemoveItem"); n != 1 {
		t.Errorf("RemoveItem calls: got %d, want 1", n)
	}
	_, err = h.client.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.Completed})
	wantError(t, err, 422, platform.CodeInvalidValue)
}

func TestCreateAccountFailures(t *testing.T) {
	h, cust := newHarnessWithCustomer(t)
	ctx := context.Background()
	first := h.linkAccount(t, cust.GUID, "dup")
	h.waitForState(t, first.GUID, rules.Completed)

	two := func(_ context.Context, at string) (simplatform.Item, []simplatform.Account, error) {
		return simplatform.Item{ItemID: "item-multi", InstitutionID: "ins_109508"}, []simplatform.Account{
			{AccountID: "acct-multi", Name: "Checking", Mask: "1111"}, {AccountID: "acct-other", Name: "Savings", Mask: "2222"},
		}, nil
	}
	tests := []struct {
		name     string
		id       string
		accounts func(context.Context, string) (simplatform.Item, []simplatform.Account, error)
		want     string
	}{
		{"same Plaid account again", "dup", nil, platform.FailureDuplicate},
		{"Item shares two accounts", "multi", two, platform.FailurePlaidMultipleAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.accounts != nil {
				h.plaid.accounts = tt.accounts
			}
			a := h.linkAccount(t, cust.GUID, tt.id)
			if a.State != rules.Failed || a.FailureCode == nil || *a.FailureCode != tt.want {
				t.Errorf("got %q / %v, want failed / %s", a.State, a.FailureCode, tt.want)
			}
		})
	}
	_ = ctx
}

func TestWorkflowFailsWhenPlaidFails(t *testing.T) {
	h := newHarness(t)
	h.plaid.createLinkToken = func(context.Context, simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
		return simplatform.LinkToken{}, errors.New("plaid down")
	}
	wf, err := h.client.CreateWorkflow(context.Background(), platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenCreate})
	if err != nil {
		t.Fatalf("CreateWorkflow: %v", err)
	}
	if wf.CustomerGUID != nil {
		t.Errorf("bank-level workflow customer_guid: got %v, want null", *wf.CustomerGUID)
	}
	wf = h.waitForWorkflow(t, wf.GUID)
	if wf.State != platform.WorkflowStateFailed || wf.PlaidLinkToken != nil || wf.FailureCode == nil {
		t.Errorf("got %q token %v failure %v, want failed with no token and a failure code", wf.State, wf.PlaidLinkToken, wf.FailureCode)
	}
}

func TestForceRefreshHonoursContext(t *testing.T) {
	h := newHarness(t)
	a := h.linkAccount(t, "", "slow")
	h.waitForState(t, a.GUID, rules.Completed)
	h.plaid.refreshTransactions = func(ctx context.Context, _ string) error {
		<-ctx.Done() // a refresh slower than the caller will wait
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := h.client.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{ForceBalanceRefresh: true})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}
