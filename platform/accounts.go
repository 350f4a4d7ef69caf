package platform

import (
	"context"
	"net/http"
	"net/url"
)

// ListAccountsParams filters and pages GET /api/external_bank_accounts.
// Page is zero-based; PerPage 0 lets the platform choose (10).
type ListAccountsParams struct {
	Page, PerPage                                   int
	GUIDs, BankGUIDs, CustomerGUIDs, Assets, States []string
}

func (p ListAccountsParams) query() url.Values {
	return listQuery(p.Page, p.PerPage, map[string][]string{
		"guid": p.GUIDs, "bank_guid": p.BankGUIDs, "customer_guid": p.CustomerGUIDs,
		"asset": p.Assets, "state": p.States,
	})
}

// ListExternalBankAccounts returns one page, newest first.
func (c *Client) ListExternalBankAccounts(ctx context.Context, p ListAccountsParams) (AccountList, error) {
	return call[AccountList](ctx, c, request{method: http.MethodGet, url: c.apiURL("external_bank_accounts"), query: p.query()})
}

// EachExternalBankAccount walks every page (per_page 100, from p.Page) and
// calls fn for each account; it stops at a short page or once
// page*per_page reaches total, and at fn's first error.
func (c *Client) EachExternalBankAccount(ctx context.Context, p ListAccountsParams, fn func(ExternalBankAccount) error) error {
	p.PerPage = 100
	for {
		list, err := c.ListExternalBankAccounts(ctx, p)
		if err != nil {
			return err
		}
		for _, a := range list.Objects {
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(list.Objects) < p.PerPage || (p.Page+1)*p.PerPage >= list.Total {
			return nil
		}
		p.Page++
	}
}

// CreateAccountRequest links a Plaid account (account_kind plaid). Leave
// CustomerGUID empty for a bank-level account.
type CreateAccountRequest struct {
	Name             string `json:"name"`
	AccountKind      string `json:"account_kind"`
	Asset            string `json:"asset,omitempty"`
	CustomerGUID     string `json:"customer_guid,omitempty"`
	PlaidPublicToken string `json:"plaid_public_token,omitempty"`
	PlaidAccountID   string `json:"plaid_account_id,omitempty"`
}

// CreateExternalBankAccount creates the account (usually in storing). The
// platform has no idempotency key, so this is never retried: a caller that
// did not get an answer must list to find out whether it exists.
func (c *Client) CreateExternalBankAccount(ctx context.Context, req CreateAccountRequest) (ExternalBankAccount, error) {
	return call[ExternalBankAccount](ctx, c, request{method: http.MethodPost, url: c.apiURL("external_bank_accounts"), body: req})
}

// GetAccountOptions asks for balances, optionally pulled fresh from the bank
// (slow: give ctx tens of seconds).
type GetAccountOptions struct {
	IncludeBalances, ForceBalanceRefresh bool
}

// GetExternalBankAccount returns one account. With ForceBalanceRefresh an
// expired bank login answers an error for which IsRefreshRequired is true.
func (c *Client) GetExternalBankAccount(ctx context.Context, guid string, opts GetAccountOptions) (ExternalBankAccount, error) {
	q := url.Values{}
	if opts.IncludeBalances || opts.ForceBalanceRefresh {
		q.Set("include_balances", "true")
	}
	if opts.ForceBalanceRefresh {
		q.Set("force_balance_refresh", "true")
	}
	return call[ExternalBankAccount](ctx, c, request{method: http.MethodGet, url: c.apiURL("external_bank_accounts", guid), query: q})
}

// PatchAccountRequest moves an account to completed (after Link update mode)
// or forces refresh_required (sandbox), and may rename it.
type PatchAccountRequest struct {
	State string  `json:"state,omitempty"`
	Name  *string `json:"name,omitempty"`
}

// PatchExternalBankAccount is idempotent, so it is retried.
func (c *Client) PatchExternalBankAccount(ctx context.Context, guid string, req PatchAccountRequest) (ExternalBankAccount, error) {
	return call[ExternalBankAccount](ctx, c, request{method: http.MethodPatch, url: c.apiURL("external_bank_accounts", guid), body: req})
}

// DeleteExternalBankAccount starts the removal (deleting, then deleted) and
// returns the account. Never retried.
func (c *Client) DeleteExternalBankAccount(ctx context.Context, guid string) (ExternalBankAccount, error) {
	return call[ExternalBankAccount](ctx, c, request{method: http.MethodDelete, url: c.apiURL("external_bank_accounts", guid)})
}
