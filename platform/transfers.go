package platform

import (
	"context"
	"net/http"
	"time"
)

// Money movement: funding quotes and transfers.
const (
	ProductTypeFunding  = "funding"
	TransferTypeFunding = "funding"

	SideDeposit    = "deposit"
	SideWithdrawal = "withdrawal"

	RailACH  = "ach"
	RailWire = "wire"

	TransferStateStoring   = "storing"
	TransferStatePending   = "pending"
	TransferStateCompleted = "completed"
	TransferStateFailed    = "failed"

	// Failure codes of a failed transfer (besides the account ones, e.g.
	// FailureInvalidRoutingNumber when a bank routes wires elsewhere).
	TransferFailureRefreshRequired = "refresh_required"
	TransferFailureInvalidAccount  = "invalid_account"
)

// Quote prices a funding deposit or withdrawal; amounts are in cents.
type Quote struct {
	GUID          string    `json:"guid"`
	ProductType   string    `json:"product_type"`
	CustomerGUID  string    `json:"customer_guid"`
	Side          string    `json:"side"`
	Asset         string    `json:"asset"`
	ReceiveAmount int64     `json:"receive_amount"`
	DeliverAmount int64     `json:"deliver_amount"`
	Fee           int64     `json:"fee"`
	IssuedAt      time.Time `json:"issued_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// Transfer is money moving between the platform and an external bank account.
type Transfer struct {
	GUID                    string    `json:"guid"`
	TransferType            string    `json:"transfer_type"`
	CustomerGUID            string    `json:"customer_guid"`
	QuoteGUID               string    `json:"quote_guid"`
	ExternalBankAccountGUID string    `json:"external_bank_account_guid"`
	Asset                   string    `json:"asset"`
	Side                    string    `json:"side"`
	State                   string    `json:"state"`
	FailureCode             *string   `json:"failure_code"`
	Amount                  int64     `json:"amount"`
	PaymentRail             string    `json:"payment_rail"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

// Final tells whether the transfer will not change any more.
func (t Transfer) Final() bool {
	return t.State == TransferStateCompleted || t.State == TransferStateFailed
}

// TransferList is one page of transfers.
type TransferList struct {
	Total   int        `json:"total"`
	Page    int        `json:"page"`
	PerPage int        `json:"per_page"`
	Objects []Transfer `json:"objects"`
}

// CreateQuoteRequest asks for a funding quote. Give ReceiveAmount or
// DeliverAmount (cents), not both. CustomerGUID may be empty with a customer token.
type CreateQuoteRequest struct {
	ProductType   string `json:"product_type"`
	CustomerGUID  string `json:"customer_guid,omitempty"`
	Asset         string `json:"asset"`
	Side          string `json:"side"`
	ReceiveAmount *int64 `json:"receive_amount,omitempty"`
	DeliverAmount *int64 `json:"deliver_amount,omitempty"`
}

// CreateQuote is never retried (the platform has no idempotency keys).
func (c *Client) CreateQuote(ctx context.Context, req CreateQuoteRequest) (Quote, error) {
	if req.ProductType == "" {
		req.ProductType = ProductTypeFunding
	}
	var out Quote
	err := c.do(ctx, request{method: http.MethodPost, url: c.apiURL("quotes"), body: req}, &out)
	return out, err
}

// GetQuote returns one quote.
func (c *Client) GetQuote(ctx context.Context, guid string) (Quote, error) {
	var out Quote
	err := c.do(ctx, request{method: http.MethodGet, url: c.apiURL("quotes", guid)}, &out)
	return out, err
}

// CreateTransferRequest executes a quote against an external bank account.
type CreateTransferRequest struct {
	QuoteGUID               string `json:"quote_guid"`
	TransferType            string `json:"transfer_type"`
	ExternalBankAccountGUID string `json:"external_bank_account_guid"`
	PaymentRail             string `json:"payment_rail"`
}

// CreateTransfer answers the transfer in storing. Never retried: a caller
// that got no answer must look for the transfer of its quote (ListTransfers
// with QuoteGUIDs) before trying again.
func (c *Client) CreateTransfer(ctx context.Context, req CreateTransferRequest) (Transfer, error) {
	if req.TransferType == "" {
		req.TransferType = TransferTypeFunding
	}
	var out Transfer
	err := c.do(ctx, request{method: http.MethodPost, url: c.apiURL("transfers"), body: req}, &out)
	return out, err
}

// GetTransfer returns one transfer.
func (c *Client) GetTransfer(ctx context.Context, guid string) (Transfer, error) {
	var out Transfer
	err := c.do(ctx, request{method: http.MethodGet, url: c.apiURL("transfers", guid)}, &out)
	return out, err
}

// ListTransfersParams filters and pages GET /api/transfers.
type ListTransfersParams struct {
	Page, PerPage                                                 int
	GUIDs, CustomerGUIDs, AccountGUIDs, QuoteGUIDs, States, Sides []string
}

// ListTransfers returns one page, newest first.
func (c *Client) ListTransfers(ctx context.Context, p ListTransfersParams) (TransferList, error) {
	q := listQuery(p.Page, p.PerPage, map[string][]string{
		"guid": p.GUIDs, "customer_guid": p.CustomerGUIDs, "account_guid": p.AccountGUIDs,
		"quote_guid": p.QuoteGUIDs, "state": p.States, "side": p.Sides,
	})
	var out TransferList
	err := c.do(ctx, request{method: http.MethodGet, url: c.apiURL("transfers"), query: q}, &out)
	return out, err
}
