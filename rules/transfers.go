package rules

// What a transfer's state and failure code mean to people. The portal's own
// states (quoted, submitting) and codes (quote_expired, not_sent, refused)
// stand beside the platform's.

var transferStateLabels = map[string]string{
	"quoted":     "Quoted",
	"submitting": "Sending",
	"storing":    "Processing",
	"pending":    "Pending",
	"holding":    "On hold",
	"reviewing":  "In review",
	"completed":  "Completed",
	"failed":     "Failed",
	"cancelling": "Cancelling",
}

// TransferStateLabel is the customer-facing label of a transfer state.
func TransferStateLabel(state string) string { return wordsFor(transferStateLabels, state, "Unknown") }

// transferFailureTexts is the one place where a failed transfer's code
// becomes plain words: every code of the platform's list, then the portal's
// own (quote_expired, not_sent, refused). payment_rail_invalid on a wire has
// its own advice (TransferFailureText).
var transferFailureTexts = map[string]string{
	"non_sufficient_funds":          "There was not enough money in the account, so nothing was moved.",
	"refresh_required":              "Your bank login for this account had expired, so nothing was moved. Reconnect the account, then try again.",
	"party_name_invalid":            "The name on the bank account did not match, so nothing was moved.",
	"payment_rail_invalid":          "Your bank did not accept this way of sending money, so nothing was moved.",
	"compliance_rejection":          "The transfer was stopped by a compliance check, so nothing was moved. Contact us for details.",
	"cancelled":                     "The transfer was cancelled, so nothing was moved.",
	"reversed":                      "Your bank sent the money back, so the transfer was reversed.",
	"limit_exceeded":                "The transfer was over a limit, so nothing was moved. Try a smaller amount.",
	"network_fee_too_low":           "The network fee was too low, so nothing was moved. Try again.",
	"amount_too_low":                "The amount was too small to send, so nothing was moved. Try a larger amount.",
	"internal_error":                "The bank platform had a problem, so nothing was moved. Try again later.",
	"invalid_address":               "The destination address was not valid, so nothing was moved.",
	"invalid_destination":           "This account cannot be used for transfers right now, so nothing was moved.",
	"customer_action_required":      "We need something from you before money can move, so nothing was moved. Contact us.",
	"external_vendor_error":         "A partner of the bank platform had a problem, so nothing was moved. Try again later.",
	"payment_request_expired":       "The payment request expired, so nothing was moved. Start again.",
	"return_risk_exceeded":          "The transfer was declined as too likely to be returned, so nothing was moved.",
	"daily_limit_exceeded":          "This would go over your daily limit, so nothing was moved. Try again tomorrow or with less.",
	"weekly_limit_exceeded":         "This would go over your weekly limit, so nothing was moved. Try again next week or with less.",
	"monthly_limit_exceeded":        "This would go over your monthly limit, so nothing was moved. Try again next month or with less.",
	"customer_contact_info_missing": "We are missing your contact details, so nothing was moved. Contact us to add them.",
	"recipient_cancelled":           "The recipient cancelled the transfer, so nothing was moved.",

	"quote_expired": "The quote expired before the transfer was sent. Nothing was moved; start again for a new quote.",
	"not_sent":      "The transfer never reached the bank platform. Nothing was moved; try again.",
	"refused":       "The bank platform refused this transfer. Nothing was moved.",
}

// TransferFailureText explains why a transfer failed, in plain words; a code
// the portal does not know (a newer platform's) gets general words.
func TransferFailureText(code, rail string) string {
	if code == "payment_rail_invalid" && rail == "wire" {
		return "Your bank uses a different routing number for wires, so the wire could not be sent. Nothing was moved; send it by ACH instead."
	}
	return wordsFor(transferFailureTexts, code, "The transfer did not go through, so nothing was moved.")
}
