package simplatform

import (
	"context"
	"time"
)

// Plaid is what the simulator needs from Plaid. The plaid-go adapter (package
// sim/platform/plaidgo) implements it against the offline stand-in (sim/plaid)
// or Plaid's real sandbox; unit tests use a struct of func fields.
type Plaid interface {
	// CreateLinkToken creates a link token: create mode when AccessToken is
	// empty, update mode (no products) when it is set.
	CreateLinkToken(ctx context.Context, req LinkTokenRequest) (LinkToken, error)
	// ExchangePublicToken swaps a public token for the Item's access token.
	ExchangePublicToken(ctx context.Context, publicToken string) (ItemAccess, error)
	// Accounts returns the Item (with its institution) and the accounts it shares.
	Accounts(ctx context.Context, accessToken string) (Item, []Account, error)
	// RefreshTransactions asks Plaid for an on-demand pull (slow). An expired
	// login answers a *PlaidError with Code ITEM_LOGIN_REQUIRED; an Item with
	// only non-depository accounts at ins_128026 answers PRODUCTS_NOT_SUPPORTED.
	RefreshTransactions(ctx context.Context, accessToken string) error
	// Balances returns current balances (cents) per Plaid account id.
	Balances(ctx context.Context, accessToken string) (map[string]Balance, error)
	// ResetLogin forces the Item into ITEM_LOGIN_REQUIRED (sandbox only).
	ResetLogin(ctx context.Context, accessToken string) error
	// RemoveItem removes the Item at Plaid.
	RemoveItem(ctx context.Context, accessToken string) error
	// VerifyWebhook checks a webhook's Plaid-Verification header against the
	// raw body (ES256 JWT, key from /webhook_verification_key/get, iat under
	// 5 minutes, request_body_sha256) and decodes it.
	VerifyWebhook(ctx context.Context, verificationHeader string, body []byte) (Webhook, error)
}

type LinkTokenRequest struct {
	ClientUserID     string
	ClientName       string
	Language         string // en, fr, es, nl, de
	RedirectURI      string // optional; must be registered
	Webhook          string // URL Plaid posts Item webhooks to
	AccessToken      string // set for update mode
	AccountSelection bool   // update.account_selection_enabled
}

type LinkToken struct {
	Token      string
	Expiration time.Time
}

type ItemAccess struct {
	AccessToken string
	ItemID      string
}

type Item struct {
	ItemID          string
	InstitutionID   string
	InstitutionName string
}

type Account struct {
	AccountID string
	Name      string
	Mask      string
	Type      string // depository, credit, ...
	Subtype   string // checking, savings, credit card, ...
}

type Balance struct {
	Available *int64 // cents
	Current   *int64 // cents
}

// PlaidError is Plaid's error shape, as plaid.ToPlaidError reads it.
type PlaidError struct {
	Type           string
	Code           string
	Message        string
	DisplayMessage string
	RequestID      string
}

func (e *PlaidError) Error() string { return "plaid: " + e.Type + " " + e.Code + ": " + e.Message }

type Webhook struct {
	WebhookType string // ITEM, TRANSACTIONS, ...
	WebhookCode string // ERROR, PENDING_EXPIRATION, LOGIN_REPAIRED, ...
	ItemID      string
	ErrorCode   string // from the webhook's error object, e.g. ITEM_LOGIN_REQUIRED
	// ID identifies this delivery for dedupe (the SHA-256 of the body).
	ID string
}
