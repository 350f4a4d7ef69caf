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

	ParticipantCustomer = "customer"
	ParticipantBank     = "bank"
)

// Transfer states, exactly the platform's seven; completed and failed are final.
const (
	TransferStateStoring    = "storing"
	TransferStatePending    = "pending"
	TransferStateHolding    = "holding"
	TransferStateReviewing  = "reviewing"
	TransferStateCompleted  = "completed"
	TransferStateFailed     = "failed"
	TransferStateCancelling = "cancelling"
)

// TransferStates lists the seven transfer states.
var TransferStates = []string{
	TransferStateStoring, TransferStatePending, TransferStateHolding, TransferStateReviewing,
	TransferStateCompleted, TransferStateFailed, TransferStateCancelling,
}

// Failure codes of a failed transfer: the platform's own list, nothing else
// ever appears (a newer platform may add codes; callers show unknown ones in
// plain words).
const (
	TransferFailureNonSufficientFunds         = "non_sufficient_funds"
	TransferFailureRefreshRequired            = "refresh_required"
	TransferFailurePartyNameInvalid           = "party_name_invalid"
	TransferFailurePaymentRailInvalid         = "payment_rail_invalid"
	TransferFailureComplianceRejection        = "compliance_rejection"
	TransferFailureCancelled                  = "cancelled"
	TransferFailureReversed                   = "reversed"
	TransferFailureLimitExceeded              = "limit_exceeded"
	TransferFailureNetworkFeeTooLow           = "network_fee_too_low"
	TransferFailureAmountTooLow               = "amount_too_low"
	TransferFailureInternalError              = "internal_error"
	TransferFailureInvalidAddress             = "invalid_address"
	TransferFailureInvalidDestination         = "invalid_destination"
	TransferFailureCustomerActionRequired     = "customer_action_required"
	TransferFailureExternalVendorError        = "external_vendor_error"
	TransferFailurePaymentRequestExpired      = "payment_request_expired"
	TransferFailureReturnRiskExceeded         = "return_risk_exceeded"
	TransferFailureDailyLimitExceeded         = "daily_limit_exceeded"
	TransferFailureWeeklyLimitExceeded        = "weekly_limit_exceeded"
	TransferFailureMonthlyLimitExceeded       = "monthly_limit_exceeded"
	TransferFailureCustomerContactInfoMissing = "customer_contact_info_missing"
	TransferFailureRecipientCancelled         = "recipient_cancelled"
)

// TransferFailureCodes lists the platform's transfer failure codes.
var TransferFailureCodes = []string{
	TransferFailureNonSufficientFunds, TransferFailureRefreshRequired, TransferFailurePartyNameInvalid,
	TransferFailurePaymentRailInvalid, TransferFailureComplianceRejection, TransferFailureCancelled,
	TransferFailureReversed, TransferFailureLimitExceeded, TransferFailureNetworkFeeTooLow,
	TransferFailureAmountTooLow, TransferFailureInternalError, TransferFailureInvalidAddress,
	TransferFailureInvalidDestination, TransferFailureCustomerActionRequired, TransferFailureExternalVendorError,
	TransferFailurePaymentRequestExpired, TransferFailureReturnRiskExceeded, TransferFailureDailyLimitExceeded,
	TransferFailureWeeklyLimitExceeded, TransferFailureMonthlyLimitExceeded, TransferFailureCustomerContactInfoMissing,
	TransferFailureRecipientCancelled,
}

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
	// ExpiresAt may be null for a funding quote: no expiry, not expired.
	ExpiresAt *time.Time `json:"expires_at"`
}

// Expired tells whether the quote can no longer be executed at now.
func (q Quote) Expired(now time.Time) bool {
	return q.ExpiresAt != nil && !now.Before(*q.ExpiresAt)
}

// Participant is one side of a funding transfer: the customer (or bank) whose
// money moves, and how much, in base units (cents).
type Participant struct {
	Type   string `json:"type"`
	Amount int64  `json:"amount"`
	GUID   string `json:"guid"`
}

// Transfer is money moving between the platform and an external bank account.
// The simulator declares the same fields on its own: sim imports nothing of the portal (README, Layout).
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

	SourceParticipants      []Participant `json:"source_participants"`
	DestinationParticipants []Participant `json:"destination_participants"`
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
	return call[Quote](ctx, c, request{method: http.MethodPost, url: c.apiURL("quotes"), body: req})
}

// GetQuote returns one quote.
func (c *Client) GetQuote(ctx context.Context, guid string) (Quote, error) {
	return call[Quote](ctx, c, request{method: http.MethodGet, url: c.apiURL("quotes", guid)})
}

// CreateTransferRequest executes a quote against an external bank account.
// A funding transfer needs both participant lists (FundingTransfer fills them).
type CreateTransferRequest struct {
	QuoteGUID               string        `json:"quote_guid"`
	TransferType            string        `json:"transfer_type"`
	ExternalBankAccountGUID string        `json:"external_bank_account_guid"`
	PaymentRail             string        `json:"payment_rail"`
	SourceParticipants      []Participant `json:"source_participants,omitempty"`
	DestinationParticipants []Participant `json:"destination_participants,omitempty"`
}

// FundingTransfer is the request that executes a customer's funding quote:
// for a deposit or a withdrawal both participant lists hold that one
// customer with the quote's amount.
func FundingTransfer(customerGUID, quoteGUID string, amount int64, accountGUID, rail string) CreateTransferRequest {
	p := []Participant{{Type: ParticipantCustomer, Amount: amount, GUID: customerGUID}}
	return CreateTransferRequest{
		QuoteGUID: quoteGUID, TransferType: TransferTypeFunding, ExternalBankAccountGUID: accountGUID, PaymentRail: rail,
		SourceParticipants: p, DestinationParticipants: p,
	}
}

// CreateTransfer answers the transfer in storing. Never retried: a caller
// that got no answer must look for the transfer of its quote (ListTransfers
// with QuoteGUIDs) before trying again.
func (c *Client) CreateTransfer(ctx context.Context, req CreateTransferRequest) (Transfer, error) {
	if req.TransferType == "" {
		req.TransferType = TransferTypeFunding
	}
	return call[Transfer](ctx, c, request{method: http.MethodPost, url: c.apiURL("transfers"), body: req})
}

// GetTransfer returns one transfer.
func (c *Client) GetTransfer(ctx context.Context, guid string) (Transfer, error) {
	return call[Transfer](ctx, c, request{method: http.MethodGet, url: c.apiURL("transfers", guid)})
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
	return call[TransferList](ctx, c, request{method: http.MethodGet, url: c.apiURL("transfers"), query: q})
}
