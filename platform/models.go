package platform

import (
	"time"
)

// An external bank account's state (ExternalBankAccount.State, and what
// PatchAccountRequest sets) is one of the contract's seven, named once for
// the whole portal in rules: say rules.Storing, rules.Completed, … (rules.States
// lists them).

// Account kinds.
const (
	AccountKindPlaid               = "plaid"
	AccountKindPlaidProcessorToken = "plaid_processor_token"
	AccountKindRawRoutingDetails   = "raw_routing_details"
)

// Failure codes of an account in state failed.
const (
	FailureInvalidRoutingNumber   = "invalid_routing_number"
	FailureInvalidAccountNumber   = "invalid_account_number"
	FailureInvalidAccountType     = "invalid_account_type"
	FailureDuplicate              = "duplicate"
	FailurePlaidProcessorToken    = "plaid_processor_token"
	FailurePlaidMultipleAccounts  = "plaid_multiple_accounts"
	FailureCreateFailed           = "create_failed"
	FailureUnverifiedCounterparty = "unverified_counterparty"
)

// Workflow type, kinds and states.
const (
	WorkflowTypePlaid = "plaid"

	WorkflowKindLinkTokenCreate = "link_token_create"
	WorkflowKindLinkTokenUpdate = "link_token_update"

	WorkflowStateStoring   = "storing"
	WorkflowStateCompleted = "completed"
	WorkflowStateFailed    = "failed"
)

// Customer types.
const (
	CustomerTypeIndividual = "individual"
	CustomerTypeBusiness   = "business"
)

// Scopes of the contract.
const (
	ScopeExternalBankAccountsRead    = "external_bank_accounts:read"
	ScopeExternalBankAccountsWrite   = "external_bank_accounts:write"
	ScopeExternalBankAccountsExecute = "external_bank_accounts:execute"
	ScopeWorkflowsRead               = "workflows:read"
	ScopeWorkflowsExecute            = "workflows:execute"
	ScopeCustomersRead               = "customers:read"
	ScopeCustomersWrite              = "customers:write"
	ScopeCustomersExecute            = "customers:execute"
	ScopeQuotesRead                  = "quotes:read"
	ScopeQuotesExecute               = "quotes:execute"
	ScopeTransfersRead               = "transfers:read"
	ScopeTransfersExecute            = "transfers:execute"
)

// AllScopes is every scope of the contract; a bank token asks for these by default.
var AllScopes = []string{
	ScopeExternalBankAccountsRead, ScopeExternalBankAccountsWrite, ScopeExternalBankAccountsExecute,
	ScopeWorkflowsRead, ScopeWorkflowsExecute,
	ScopeCustomersRead, ScopeCustomersWrite, ScopeCustomersExecute,
	ScopeQuotesRead, ScopeQuotesExecute,
	ScopeTransfersRead, ScopeTransfersExecute,
}

// ExternalBankAccount is a bank account linked through Plaid, as the platform
// keeps it.
type ExternalBankAccount struct {
	GUID               string     `json:"guid"`
	Name               string     `json:"name"`
	Asset              string     `json:"asset"`
	AccountKind        string     `json:"account_kind"`
	Environment        string     `json:"environment"`
	BankGUID           string     `json:"bank_guid"`
	CustomerGUID       *string    `json:"customer_guid"`
	CounterpartyGUID   *string    `json:"counterparty_guid"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	PlaidInstitutionID string     `json:"plaid_institution_id"`
	PlaidAccountMask   string     `json:"plaid_account_mask"`
	PlaidAccountName   *string    `json:"plaid_account_name"`
	State              string     `json:"state"`
	FailureCode        *string    `json:"failure_code"`
	BalanceUpdatedAt   *time.Time `json:"balance_updated_at"`
	// Balances is set only when asked for with IncludeBalances.
	Balances *Balances `json:"balances,omitempty"`
}

// Balances are in cents.
type Balances struct {
	Available *int64 `json:"available"`
	Current   *int64 `json:"current"`
}

// AccountList is one page of external bank accounts.
type AccountList struct {
	Total   int                   `json:"total"`
	Page    int                   `json:"page"`
	PerPage int                   `json:"per_page"`
	Objects []ExternalBankAccount `json:"objects"`
}

// Workflow is a request for a Plaid link token; the token arrives
// asynchronously (poll GetWorkflow).
type Workflow struct {
	GUID           string    `json:"guid"`
	BankGUID       string    `json:"bank_guid"`
	CustomerGUID   *string   `json:"customer_guid"`
	Type           string    `json:"type"`
	State          string    `json:"state"`
	FailureCode    *string   `json:"failure_code"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	PlaidLinkToken *string   `json:"plaid_link_token,omitempty"`
}

// WorkflowList is one page of workflows.
type WorkflowList struct {
	Total   int        `json:"total"`
	Page    int        `json:"page"`
	PerPage int        `json:"per_page"`
	Objects []Workflow `json:"objects"`
}

// Customer is an end customer of the bank. Name and EmailAddress are only
// returned with include_pii=true.
type Customer struct {
	GUID         string        `json:"guid"`
	BankGUID     string        `json:"bank_guid"`
	Type         string        `json:"type"`
	State        string        `json:"state"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	Name         *CustomerName `json:"name,omitempty"`
	EmailAddress *string       `json:"email_address,omitempty"`
}

// CustomerName is an individual's first/last name or a business's full name.
type CustomerName struct {
	First  *string `json:"first"`
	Middle *string `json:"middle"`
	Last   *string `json:"last"`
	Full   *string `json:"full"`
}

// CustomerList is one page of customers.
type CustomerList struct {
	Total   int        `json:"total"`
	Page    int        `json:"page"`
	PerPage int        `json:"per_page"`
	Objects []Customer `json:"objects"`
}
