package contract

import (
	"slices"
	"strings"
)

// Enums of the pinned definitions (see the package comment for the version).
var (
	// external_bank_account_state.py
	AccountStates = []string{"storing", "completed", "failed", "refresh_required", "unverified", "deleting", "deleted"}
	// external_bank_account_kind.py
	AccountKinds = []string{"plaid", "plaid_processor_token", "raw_routing_details"}
	// docs/ExternalBankAccount.md: environment is "one of sandbox or production".
	Environments = []string{"sandbox", "production"}
	// patch_external_bank_account.py
	PatchAccountStates = []string{"completed", "refresh_required"}
	// workflow_state.py, workflow_type.py
	WorkflowStates = []string{"storing", "completed", "failed"}
	WorkflowTypes  = []string{"plaid"}
	// post_workflow.py
	WorkflowKinds     = []string{"link_token_create", "link_token_update"}
	WorkflowLanguages = []string{"en", "fr", "es", "nl", "de"}
	// customer_state.py, customer_type.py
	CustomerStates = []string{"storing", "unverified", "verified", "rejected", "frozen"}
	CustomerTypes  = []string{"business", "individual"}
	// quote_type.py (answers), post_quote.py (requests)
	QuoteTypes     = []string{"trading", "trading_exit", "funding", "crypto_transfer", "inter_account", "lightning_transfer", "book_transfer"}
	PostQuoteTypes = []string{"trading", "funding", "crypto_transfer", "inter_account", "lightning_transfer", "book_transfer"}
	// quote_side.py (post_quote.py has the same four)
	QuoteSides = []string{"buy", "sell", "deposit", "withdrawal"}
	// post_quote.py, post_transfer.py; docs/Transfer.md for answers
	PaymentRails = []string{"ach", "eft", "wire", "rtp", "etransfer"}
	// transfer_state.py
	TransferStates = []string{"storing", "pending", "holding", "reviewing", "completed", "failed", "cancelling"}
	// transfer_side.py
	TransferSides = []string{"deposit", "withdrawal"}
	// transfer_type.py (answers), post_transfer.py (requests)
	TransferTypes     = []string{"funding", "book", "crypto", "instant_funding", "funding_return", "crypto_return", "loss_recovery", "inter_account", "lightning", "instant_funding_return"}
	PostTransferTypes = []string{"funding", "crypto", "instant_funding", "inter_account", "lightning", "book"}
	// transfer_failure_code.py
	TransferFailureCodes = []string{
		"non_sufficient_funds", "refresh_required", "party_name_invalid", "payment_rail_invalid",
		"compliance_rejection", "cancelled", "reversed", "limit_exceeded", "network_fee_too_low",
		"amount_too_low", "internal_error", "invalid_address", "invalid_destination", "customer_action_required",
		"external_vendor_error", "payment_request_expired", "return_risk_exceeded", "daily_limit_exceeded",
		"weekly_limit_exceeded", "monthly_limit_exceeded", "customer_contact_info_missing", "recipient_cancelled",
	}
	// post_transfer_participant.py
	ParticipantTypes = []string{"bank", "customer", "counterparty"}
	// The scopes of the bank API that the portal and the simulator know
	// (the client's README scope table; platform-api.md).
	Scopes = []string{
		"external_bank_accounts:read", "external_bank_accounts:write", "external_bank_accounts:execute",
		"workflows:read", "workflows:execute",
		"customers:read", "customers:write", "customers:execute",
		"quotes:read", "quotes:execute", "transfers:read", "transfers:execute",
	}
	// From platform-api.md (ErrorResponse.message_code is a free string in
	// the model): the codes of the platform's 4xx answers.
	MessageCodes = []string{
		"invalid_value", "missing_parameter", "invalid_parameter", "invalid_subject", "authentication_failed",
		"authentication_malformed", "invalid_scopes", "not_found", "no_customer", "request_timeout",
	}
)

func i64(v int64) *int64 { return &v }

var (
	guid         = Field{Kind: String, MinLen: 32, MaxLen: 32}
	nullableGUID = Field{Kind: String, Nullable: true, MinLen: 32, MaxLen: 32}
	// Request guids are bounded above only (max_length 32 in post_*.py).
	reqGUID = Field{Kind: String, Nullable: true, MaxLen: 32}
)

func required(f Field) Field { f.Required = true; return f }

// list is a list envelope of objects of item (*_list.py: all four required;
// total and page ≥ 0, per_page ≥ 1).
func list(name string, item *Schema) *Schema {
	return &Schema{Name: name, Fields: map[string]Field{
		"total":    {Kind: Int, Required: true, Min: i64(0)},
		"page":     {Kind: Int, Required: true, Min: i64(0)},
		"per_page": {Kind: Int, Required: true, Min: i64(1)},
		"objects":  {Kind: Array, Required: true, Of: item},
	}}
}

// ErrorResponse is error_response.py: all three required; message_code from
// the contract's list; status must equal the HTTP status (CheckExchange).
var ErrorResponse = &Schema{Name: "ErrorResponse", Fields: map[string]Field{
	"status":        {Kind: Int, Required: true},
	"error_message": {Kind: String, Required: true},
	"message_code":  {Kind: String, Required: true, Enum: MessageCodes},
}}

// ServerErrorResponse is the shape of a 429 or 5xx answer: the contract
// lists no codes for them (a gateway in front of the platform may answer
// them), so only the shape is checked.
var ServerErrorResponse = &Schema{Name: "ErrorResponse", Fields: map[string]Field{
	"status":        {Kind: Int, Required: true},
	"error_message": {Kind: String, Required: true},
	"message_code":  {Kind: String, Required: true},
}}

// ExternalBankAccountBalances is external_bank_account_balances.py.
var ExternalBankAccountBalances = &Schema{Name: "ExternalBankAccountBalances", Fields: map[string]Field{
	"available": {Kind: Int, Nullable: true, Min: i64(0)},
	"current":   {Kind: Int, Nullable: true, Min: i64(0)},
}}

// ExternalBankAccount is external_bank_account.py.
var ExternalBankAccount = &Schema{Name: "ExternalBankAccount", Fields: map[string]Field{
	"guid":                 required(guid),
	"name":                 {Kind: String, Required: true, MinLen: 1, MaxLen: 128},
	"asset":                {Kind: String, Required: true, MinLen: 1, MaxLen: 16},
	"account_kind":         {Kind: String, Required: true, Enum: AccountKinds},
	"environment":          {Kind: String, Required: true, Enum: Environments},
	"bank_guid":            required(guid),
	"customer_guid":        required(nullableGUID),
	"counterparty_guid":    nullableGUID,
	"created_at":           {Kind: Time, Required: true},
	"updated_at":           {Kind: Time, Required: true},
	"plaid_institution_id": {Kind: String, Nullable: true, Required: true, MinLen: 1, MaxLen: 128},
	"plaid_account_mask":   {Kind: String, Nullable: true, Required: true, MinLen: 1, MaxLen: 128},
	"plaid_account_name":   {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"state":                {Kind: String, Required: true, Enum: AccountStates},
	"failure_code":         {Kind: String, Nullable: true, Required: true},
	"balance_updated_at":   {Kind: Time, Nullable: true},
	"balances":             {Kind: Object, Of: ExternalBankAccountBalances},
	"pii":                  {Kind: Array, Nullable: true, Items: Any},
}}

// PostExternalBankAccount is post_external_bank_account.py (name and
// account_kind required).
var PostExternalBankAccount = &Schema{Name: "PostExternalBankAccount", Fields: map[string]Field{
	"name":                              {Kind: String, Required: true, MinLen: 1, MaxLen: 128},
	"account_kind":                      {Kind: String, Required: true, Enum: AccountKinds},
	"customer_guid":                     reqGUID,
	"asset":                             {Kind: String, Nullable: true},
	"plaid_public_token":                {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"plaid_account_id":                  {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"plaid_processor_token":             {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"plaid_institution_id":              {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"plaid_account_mask":                {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"plaid_account_name":                {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
	"counterparty_guid":                 reqGUID,
	"counterparty_bank_account_details": {Kind: Any},
	"counterparty_name":                 {Kind: Any},
	"counterparty_address":              {Kind: Any},
	"counterparty_email_address":        {Kind: String, Nullable: true},
}}

// PatchExternalBankAccount is patch_external_bank_account.py.
var PatchExternalBankAccount = &Schema{Name: "PatchExternalBankAccount", Fields: map[string]Field{
	"state": {Kind: String, Nullable: true, Enum: PatchAccountStates},
	"name":  {Kind: String, Nullable: true, MinLen: 1, MaxLen: 128},
}}

// Workflow is workflow.py; WorkflowWithDetails (workflow_with_details.py)
// adds plaid_link_token.
var Workflow = &Schema{Name: "Workflow", Fields: workflowFields(false)}
var WorkflowWithDetails = &Schema{Name: "WorkflowWithDetails", Fields: workflowFields(true)}

func workflowFields(details bool) map[string]Field {
	f := map[string]Field{
		"guid":          required(guid),
		"bank_guid":     nullableGUID,
		"customer_guid": required(nullableGUID),
		"type":          {Kind: String, Required: true, Enum: WorkflowTypes},
		"state":         {Kind: String, Required: true, Enum: WorkflowStates},
		"failure_code":  {Kind: String, Nullable: true},
		"created_at":    {Kind: Time, Required: true},
		"updated_at":    {Kind: Time, Required: true},
	}
	if details {
		f["plaid_link_token"] = Field{Kind: String, Nullable: true}
	}
	return f
}

// PostWorkflow is post_workflow.py with docs/PostWorkflow.md's conditions:
// type defaults to plaid; kind, language and link_customization_name are
// required when type is plaid; external_bank_account_guid when kind is
// link_token_update.
var PostWorkflow = &Schema{Name: "PostWorkflow", Fields: map[string]Field{
	"type":                       {Kind: String, Required: true, Enum: WorkflowTypes},
	"kind":                       {Kind: String, Nullable: true, Enum: WorkflowKinds},
	"customer_guid":              reqGUID,
	"external_bank_account_guid": reqGUID,
	"language":                   {Kind: String, Nullable: true, Enum: WorkflowLanguages},
	"link_customization_name":    {Kind: String, Nullable: true, MaxLen: 128},
	"redirect_uri":               {Kind: String, MaxLen: 128},
	"android_package_name":       {Kind: String, MaxLen: 128},
}, Rules: []func(map[string]any) string{
	func(o map[string]any) string {
		if o["type"] != "plaid" {
			return ""
		}
		var missing []string
		for _, k := range []string{"kind", "language", "link_customization_name"} {
			if o[k] == nil {
				missing = append(missing, k)
			}
		}
		if o["kind"] == "link_token_update" && o["external_bank_account_guid"] == nil {
			missing = append(missing, "external_bank_account_guid")
		}
		if len(missing) > 0 {
			return "a plaid workflow of kind " + str(o["kind"]) + " needs " + strings.Join(missing, ", ")
		}
		return ""
	},
}}

// CustomerName is customer_name.py (post_customer_name.py is the same).
var CustomerName = &Schema{Name: "CustomerName", Fields: map[string]Field{
	"first": {Kind: String, Nullable: true}, "middle": {Kind: String, Nullable: true},
	"last": {Kind: String, Nullable: true}, "full": {Kind: String, Nullable: true},
}}

// Customer is customer.py.
var Customer = &Schema{Name: "Customer", Fields: map[string]Field{
	"guid":                   required(guid),
	"bank_guid":              required(guid),
	"type":                   {Kind: String, Required: true, Enum: CustomerTypes},
	"created_at":             {Kind: Time, Required: true},
	"updated_at":             {Kind: Time, Required: true},
	"state":                  {Kind: String, Required: true, Enum: CustomerStates},
	"name":                   {Kind: Object, Of: CustomerName},
	"address":                {Kind: Any},
	"aliases":                {Kind: Any},
	"website":                {Kind: String, Nullable: true},
	"date_of_birth":          {Kind: String, Nullable: true},
	"phone_number":           {Kind: String, Nullable: true},
	"email_address":          {Kind: String, Nullable: true},
	"labels":                 {Kind: Array, Nullable: true, Items: String},
	"compliance_decisions":   {Kind: Any},
	"identification_numbers": {Kind: Any},
	"activity_limits":        {Kind: Any},
}}

// PostCustomer is post_customer.py (type required).
var PostCustomer = &Schema{Name: "PostCustomer", Fields: map[string]Field{
	"type":                   {Kind: String, Required: true, Enum: CustomerTypes},
	"name":                   {Kind: Object, Of: CustomerName},
	"email_address":          {Kind: String, Nullable: true},
	"phone_number":           {Kind: String, Nullable: true},
	"address":                {Kind: Any},
	"identification_numbers": {Kind: Any},
	"date_of_birth":          {Kind: String, Nullable: true},
	"aliases":                {Kind: Any},
	"website":                {Kind: String, Nullable: true},
	"labels":                 {Kind: Array, Nullable: true, Items: String, MaxLen: 8},
}}

// Quote is quote.py: expires_at is nullable (a funding quote may have none).
var Quote = &Schema{Name: "Quote", Fields: map[string]Field{
	"guid":              required(guid),
	"product_type":      {Kind: String, Required: true, Enum: QuoteTypes},
	"bank_guid":         guid,
	"customer_guid":     required(guid),
	"symbol":            {Kind: String, Nullable: true, MinLen: 1, MaxLen: 24},
	"side":              {Kind: String, Required: true, Enum: QuoteSides},
	"receive_amount":    {Kind: Int, Required: true},
	"deliver_amount":    {Kind: Int, Required: true},
	"fee":               {Kind: Int, Required: true},
	"fee_details":       {Kind: Any},
	"created_at":        {Kind: Time},
	"updated_at":        {Kind: Time},
	"issued_at":         {Kind: Time, Required: true},
	"expires_at":        {Kind: Time, Nullable: true, Required: true},
	"asset":             {Kind: String, Nullable: true, Required: true, MinLen: 1, MaxLen: 16},
	"network_fee":       {Kind: Int, Nullable: true},
	"network_fee_asset": {Kind: String, Nullable: true, MinLen: 1, MaxLen: 16},
	"network_address":   {Kind: String, Nullable: true},
	"entries":           {Kind: Any},
	"trade_guid":        nullableGUID,
	"transfer_guid":     nullableGUID,
}}

// PostQuote is post_quote.py (no field required by the model; the contract
// gives exactly one of receive_amount and deliver_amount).
var PostQuote = &Schema{Name: "PostQuote", Fields: map[string]Field{
	"product_type":             {Kind: String, Nullable: true, Enum: PostQuoteTypes},
	"bank_guid":                {Kind: String, Nullable: true, MinLen: 32, MaxLen: 32},
	"customer_guid":            {Kind: String, Nullable: true, MinLen: 32, MaxLen: 32},
	"receive_amount":           {Kind: Int},
	"deliver_amount":           {Kind: Int},
	"asset":                    {Kind: String, Nullable: true, MinLen: 1, MaxLen: 16},
	"network_address":          {Kind: String, Nullable: true, MaxLen: 1024},
	"fees":                     {Kind: Any},
	"side":                     {Kind: String, Nullable: true, Enum: QuoteSides},
	"destination_account_guid": {Kind: String, Nullable: true, MinLen: 32, MaxLen: 32},
	"payment_rail":             {Kind: String, Nullable: true, Enum: PaymentRails},
	"symbol":                   {Kind: String, Nullable: true, MinLen: 1, MaxLen: 24},
	"destination_accounts":     {Kind: Any},
	"reference_trade_guid":     {Kind: String, Nullable: true, MinLen: 32, MaxLen: 32},
	"source_account_guid":      {Kind: String, Nullable: true, MinLen: 32, MaxLen: 32},
}, Rules: []func(map[string]any) string{
	func(o map[string]any) string {
		_, r := o["receive_amount"]
		_, d := o["deliver_amount"]
		if r == d {
			return "give exactly one of receive_amount and deliver_amount (contract)"
		}
		return ""
	},
}}

// TransferParticipant is transfer_participant.py (type and amount required).
var TransferParticipant = &Schema{Name: "TransferParticipant", Fields: map[string]Field{
	"type":   {Kind: String, Required: true},
	"amount": {Kind: Int, Required: true},
	"guid":   guid,
}}

// PostTransferParticipant is post_transfer_participant.py (all three required).
var PostTransferParticipant = &Schema{Name: "PostTransferParticipant", Fields: map[string]Field{
	"type":   {Kind: String, Required: true, Enum: ParticipantTypes},
	"amount": {Kind: Int, Required: true},
	"guid":   required(guid),
}}

// Transfer is transfer.py; state, side, transfer_type and failure_code take
// the values of transfer_state.py, transfer_side.py, transfer_type.py and
// transfer_failure_code.py (docs/Transfer.md).
var Transfer = &Schema{Name: "Transfer", Fields: map[string]Field{
	"guid":                               required(guid),
	"transfer_type":                      {Kind: String, Required: true, Enum: TransferTypes},
	"bank_guid":                          nullableGUID,
	"customer_guid":                      required(nullableGUID),
	"quote_guid":                         required(guid),
	"external_bank_account_guid":         required(nullableGUID),
	"asset":                              {Kind: String, Required: true},
	"side":                               {Kind: String, Required: true, Enum: TransferSides},
	"state":                              {Kind: String, Required: true, Enum: TransferStates},
	"failure_code":                       {Kind: String, Nullable: true, Required: true, Enum: TransferFailureCodes},
	"return_code":                        {Kind: String, Nullable: true},
	"amount":                             {Kind: Int, Nullable: true, Required: true},
	"estimated_amount":                   {Kind: Int},
	"fee":                                {Kind: Int},
	"fee_details":                        {Kind: Any},
	"estimated_network_fee":              {Kind: Int, Nullable: true},
	"network_fee":                        {Kind: Int, Nullable: true},
	"network_fee_asset":                  {Kind: String, Nullable: true, MinLen: 1, MaxLen: 16},
	"network_fee_liability_amount":       {Kind: Int, Nullable: true},
	"network_fee_liability_amount_asset": {Kind: String, Nullable: true},
	"txn_hash":                           {Kind: String, Nullable: true},
	"identifiers":                        {Kind: Any},
	"reference_transfer_guid":            nullableGUID,
	"source_account":                     {Kind: Any},
	"source_participants":                {Kind: Array, Nullable: true, Of: TransferParticipant},
	"destination_account":                {Kind: Any},
	"destination_participants":           {Kind: Array, Nullable: true, Of: TransferParticipant},
	"deposit_address_guid":               nullableGUID,
	"created_at":                         {Kind: Time, Required: true},
	"updated_at":                         {Kind: Time, Required: true},
	"hold_details":                       {Kind: Any},
	"transfer_details":                   {Kind: Any},
	"payment_rail":                       {Kind: String, Nullable: true, Required: true, Enum: PaymentRails},
	"labels":                             {Kind: Array, Nullable: true, Items: String},
	"entries":                            {Kind: Any},
}}

// PostTransfer is post_transfer.py (quote_guid and transfer_type required)
// with docs/PostTransfer.md's condition: source_participants and
// destination_participants are required when transfer_type is funding.
var PostTransfer = &Schema{Name: "PostTransfer", Fields: map[string]Field{
	"quote_guid":                        {Kind: String, Required: true, MinLen: 32, MaxLen: 32},
	"transfer_type":                     {Kind: String, Required: true, Enum: PostTransferTypes},
	"external_bank_account_guid":        reqGUID,
	"fiat_account_guid":                 reqGUID,
	"send_as_deposit_bank_account_guid": reqGUID,
	"payment_rail":                      {Kind: String, Nullable: true, Enum: PaymentRails},
	"beneficiary_memo":                  {Kind: String, Nullable: true},
	"security_question":                 {Kind: String, Nullable: true, MaxLen: 40},
	"security_answer":                   {Kind: String, Nullable: true, MaxLen: 25},
	"source_participants":               {Kind: Array, Nullable: true, Of: PostTransferParticipant, MaxLen: 100},
	"destination_participants":          {Kind: Array, Nullable: true, Of: PostTransferParticipant, MaxLen: 100},
	"sardine_session_guid":              {Kind: String, Nullable: true, MinLen: 32, MaxLen: 32},
	"bank_fiat_account_guid":            reqGUID,
	"customer_fiat_account_guid":        reqGUID,
	"source_account_guid":               reqGUID,
	"destination_account_guid":          reqGUID,
	"external_wallet_guid":              reqGUID,
	"customer_guid":                     reqGUID,
	"network_fee_account_guid":          reqGUID,
	"expected_behaviours":               {Kind: Array, Nullable: true, Items: String, Enum: []string{"force_review"}, MaxLen: 50},
	"labels":                            {Kind: Array, Nullable: true, Items: String, MaxLen: 8},
}, Rules: []func(map[string]any) string{
	func(o map[string]any) string {
		if o["transfer_type"] != "funding" {
			return ""
		}
		var missing []string
		for _, k := range []string{"source_participants", "destination_participants"} {
			if l, ok := o[k].([]any); !ok || len(l) == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return "a funding transfer needs " + strings.Join(missing, " and ")
		}
		return ""
	},
}}

// PostCustomerToken is the identity API's customer token request (the
// contract: customer_guid and scopes); CustomerToken is customer_token.py.
var PostCustomerToken = &Schema{Name: "PostCustomerToken", Fields: map[string]Field{
	"customer_guid": {Kind: String, Required: true, MinLen: 32, MaxLen: 32},
	"scopes":        {Kind: Array, Required: true, Items: String, Enum: Scopes, MinLen: 1},
}}
var CustomerToken = &Schema{Name: "CustomerToken", Fields: map[string]Field{
	"access_token": {Kind: String, Required: true},
}}

// TokenRequest and TokenResponse are the OAuth2 client-credentials exchange
// of the contract (RFC 6749 §4.4, §5.1); the request may also come
// form-encoded (CheckExchange turns it into this object).
var TokenRequest = &Schema{Name: "TokenRequest", Fields: map[string]Field{
	"grant_type":    {Kind: String, Required: true, Enum: []string{"client_credentials"}},
	"client_id":     {Kind: String, Required: true, MinLen: 1},
	"client_secret": {Kind: String, Required: true, MinLen: 1},
	"scope":         {Kind: String},
}, Rules: []func(map[string]any) string{
	func(o map[string]any) string {
		for _, sc := range strings.Fields(str(o["scope"])) {
			if !slices.Contains(Scopes, sc) {
				return "scope " + sc + " is not a scope of the platform"
			}
		}
		return ""
	},
}}
var TokenResponse = &Schema{Name: "TokenResponse", Fields: map[string]Field{
	"access_token": {Kind: String, Required: true, MinLen: 1},
	"token_type":   {Kind: String, Required: true, Enum: []string{"Bearer"}},
	"expires_in":   {Kind: Int, Required: true, Min: i64(1)},
	"scope":        {Kind: String, Required: true},
	"created_at":   {Kind: Int},
}}

// List envelopes (external_bank_account_list.py, workflows_list.py,
// customer_list.py, quote_list.py, transfer_list.py).
var (
	ExternalBankAccountList = list("ExternalBankAccountList", ExternalBankAccount)
	WorkflowsList           = list("WorkflowsList", Workflow)
	CustomerList            = list("CustomerList", Customer)
	QuoteList               = list("QuoteList", Quote)
	TransferList            = list("TransferList", Transfer)
)

func str(v any) string {
	s, _ := v.(string)
	return s
}
