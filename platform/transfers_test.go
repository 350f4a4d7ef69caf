package platform_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

var moneyScopes = []string{
	platform.ScopeExternalBankAccountsRead, platform.ScopeExternalBankAccountsWrite,
	platform.ScopeQuotesRead, platform.ScopeQuotesExecute, platform.ScopeTransfersRead, platform.ScopeTransfersExecute,
}

// deposit quotes and executes a deposit of cents on account as c.
func deposit(t *testing.T, c *platform.Client, account, rail string, cents int64) (platform.Transfer, error) {
	t.Helper()
	ctx := context.Background()
	q, err := c.CreateQuote(ctx, platform.CreateQuoteRequest{Asset: "USD", Side: platform.SideDeposit, ReceiveAmount: &cents})
	if err != nil {
		t.Fatalf("CreateQuote: %v", err)
	}
	// A funding quote may have no expiry: not an expired one.
	if q.ReceiveAmount != cents || q.DeliverAmount != cents || q.Side != platform.SideDeposit || q.Expired(time.Now().Add(time.Hour)) {
		t.Fatalf("quote: got %+v, want an unexpired deposit of %d cents", q, cents)
	}
	return c.CreateTransfer(ctx, platform.FundingTransfer(q.CustomerGUID, q.GUID, q.ReceiveAmount, account, rail))
}

// settle polls the transfer until it is final.
func settle(t *testing.T, c *platform.Client, guid string) platform.Transfer {
	t.Helper()
	var tr platform.Transfer
	testutil.Eventually(t, 30*time.Second, func() error {
		var err error
		tr, err = c.GetTransfer(context.Background(), guid)
		if err != nil {
			t.Fatalf("GetTransfer: %v", err)
		}
		if !tr.Final() {
			return fmt.Errorf("transfer %s: got %s, want a final state", guid, tr.State)
		}
		return nil
	})
	return tr
}

func failureCode(tr platform.Transfer) string {
	if tr.FailureCode == nil {
		return ""
	}
	return *tr.FailureCode
}

func TestFundingTransfersWithCustomerTokens(t *testing.T) {
	h := newHarness(t)
	base := h.plaid.accounts
	h.plaid.accounts = func(ctx context.Context, at string) (simplatform.Item, []simplatform.Account, error) {
		item, accounts, err := base(ctx, at)
		if strings.HasSuffix(at, "gingham") {
			item.InstitutionID = "ins_109509" // First Gingham: wires use another routing number
		}
		return item, accounts, err
	}
	ctx := context.Background()
	alice, bob := h.createCustomer(t), h.createCustomer(t)
	alicesAccount := h.linkAccount(t, alice.GUID, "alice")
	gingham := h.linkAccount(t, alice.GUID, "gingham")
	bobsAccount := h.linkAccount(t, bob.GUID, "bob")
	for _, a := range []string{alicesAccount.GUID, gingham.GUID, bobsAccount.GUID} {
		h.waitForState(t, a, rules.Completed)
	}
	asAlice, asBob := h.client.ForCustomer(alice.GUID, moneyScopes), h.client.ForCustomer(bob.GUID, moneyScopes)

	t.Run("refresh_required blocks transfers until the reconnect", func(t *testing.T) {
		if _, err := asAlice.PatchExternalBankAccount(ctx, alicesAccount.GUID, platform.PatchAccountRequest{State: rules.RefreshRequired}); err != nil {
			t.Fatal(err)
		}
		tr, err := deposit(t, asAlice, alicesAccount.GUID, platform.RailACH, 2500)
		if err != nil || tr.State != platform.TransferStateStoring || tr.CustomerGUID != alice.GUID {
			t.Fatalf("CreateTransfer: got %+v, %v, want alice's transfer in storing", tr, err)
		}
		if tr = settle(t, asAlice, tr.GUID); tr.State != platform.TransferStateFailed || failureCode(tr) != platform.TransferFailureRefreshRequired {
			t.Fatalf("on refresh_required: got %s/%s, want failed/refresh_required", tr.State, failureCode(tr))
		}
		if _, err := asAlice.PatchExternalBankAccount(ctx, alicesAccount.GUID, platform.PatchAccountRequest{State: rules.Completed}); err != nil {
			t.Fatal(err)
		}
		tr, err = deposit(t, asAlice, alicesAccount.GUID, platform.RailACH, 2500)
		if err != nil {
			t.Fatal(err)
		}
		if tr = settle(t, asAlice, tr.GUID); tr.State != platform.TransferStateCompleted || tr.Amount != 2500 {
			t.Fatalf("after the reconnect: got %+v, want completed 2500", tr)
		}
	})

	t.Run("a wire fails where the bank routes wires elsewhere, ACH works", func(t *testing.T) {
		wire, err := deposit(t, asAlice, gingham.GUID, platform.RailWire, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		if wire = settle(t, asAlice, wire.GUID); wire.State != platform.TransferStateFailed || failureCode(wire) != platform.TransferFailurePaymentRailInvalid {
			t.Errorf("wire: got %s/%s, want failed/payment_rail_invalid", wire.State, failureCode(wire))
		}
		ach, err := deposit(t, asAlice, gingham.GUID, platform.RailACH, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		if ach = settle(t, asAlice, ach.GUID); ach.State != platform.TransferStateCompleted {
			t.Errorf("ACH: got %s/%s, want completed", ach.State, failureCode(ach))
		}
	})

	t.Run("another customer's account is not found", func(t *testing.T) {
		bobs, err := deposit(t, asBob, bobsAccount.GUID, platform.RailACH, 100)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"read": func() error {
				_, err := asAlice.GetExternalBankAccount(ctx, bobsAccount.GUID, platform.GetAccountOptions{})
				return err
			},
			"patch": func() error {
				_, err := asAlice.PatchExternalBankAccount(ctx, bobsAccount.GUID, platform.PatchAccountRequest{State: rules.RefreshRequired})
				return err
			},
			"transfer": func() error {
				_, err := deposit(t, asAlice, bobsAccount.GUID, platform.RailACH, 100)
				return err
			},
			"read bob's transfer": func() error { _, err := asAlice.GetTransfer(ctx, bobs.GUID); return err },
			"read bob's quote":    func() error { _, err := asAlice.GetQuote(ctx, bobs.QuoteGUID); return err },
		}
		for name, call := range calls {
			if err := call(); !platform.IsNotFound(err) {
				t.Errorf("%s: got %v, want 404", name, err)
			}
		}
		list, err := asAlice.ListTransfers(ctx, platform.ListTransfersParams{QuoteGUIDs: []string{bobs.QuoteGUID}})
		if err != nil || list.Total != 0 {
			t.Errorf("alice listing bob's quote: got %d, %v, want 0", list.Total, err)
		}
		list, err = h.client.ListTransfers(ctx, platform.ListTransfersParams{QuoteGUIDs: []string{bobs.QuoteGUID}})
		if err != nil || list.Total != 1 || list.Objects[0].GUID != bobs.GUID {
			t.Errorf("bank listing by quote: got %+v, %v, want bob's transfer", list, err)
		}
		if a, err := h.client.GetExternalBankAccount(ctx, bobsAccount.GUID, platform.GetAccountOptions{}); err != nil || a.State != rules.Completed {
			t.Errorf("bob's account after alice's attempts: got %s, %v, want completed", a.State, err)
		}
	})

	t.Run("a POST is sent once", func(t *testing.T) {
		h.requests.reset()
		if err := h.sandbox.SetFaults(ctx, []simplatform.Fault{{Method: "POST", PathPrefix: "/api/transfers", Status: 503}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.sandbox.ClearFaults(context.Background()) })
		_, err := deposit(t, asAlice, alicesAccount.GUID, platform.RailACH, 100)
		wantError(t, err, 503, "internal_error")
		if n := h.requests.count("POST /api/transfers"); n != 1 {
			t.Errorf("POST /api/transfers sent %d times, want 1", n)
		}
	})
}
