package views

import (
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/bankconnections/portal/rules"
)

// TransferPanelView is the money-movement part of a connection's page.
type TransferPanelView struct {
	Enabled     bool // transfers are wired; otherwise nothing is shown, unless Off
	Off         bool // transfers are switched off: say so instead of the form
	AccountGUID string
	// Blocked says why this connection cannot move money; the form is shown only when empty.
	Blocked   string
	Form      TransferForm
	Transfers []TransferRow
}

// TransferForm is the deposit/withdraw form, with what was typed and why it was refused.
type TransferForm struct {
	Amount string
	Side   string // deposit | withdrawal
	Rail   string // ach | wire
	Limit  int64  // cents
	Error  string
	// Field names the field the error is about ("amount", "side", "rail"):
	// it is marked invalid, tied to the message and focused.
	Field string
}

// TransferRow is one transfer in a list.
type TransferRow struct {
	Key         string
	AccountGUID string
	Institution string
	Mask        string
	Side        string
	Rail        string
	Amount      int64
	State       string
	FailureCode string
	CreatedAt   time.Time
}

// TransferSent is a transfer the customer has just confirmed.
type TransferSent struct {
	Side, Rail string
	Amount     int64
	Failed     bool
}

// sentText says what was sent and what happens next.
func sentText(s TransferSent) string {
	what := SideLabel(s.Side) + " of " + cents(s.Amount) + " by " + RailLabel(s.Rail)
	if s.Failed {
		return what + " did not go through. Nothing was moved; see the reason under Recent transfers."
	}
	when := "It usually arrives in 1–3 business days."
	if s.Rail == "wire" {
		when = "It usually arrives the same business day."
	}
	return what + " sent. " + when + " Its status under Recent transfers updates by itself."
}

// TransferFormView is the form page shown again after a refusal.
type TransferFormView struct {
	Institution string
	Mask        string
	Panel       TransferPanelView
}

// TransferQuoteView is the quote, shown before the customer confirms it.
type TransferQuoteView struct {
	Key         string
	AccountGUID string
	Institution string
	Mask        string
	Side        string
	Rail        string
	Amount      int64
	Fee         int64
	ExpiresAt   time.Time
	Expired     bool
}

// TransferStateLabel is the customer-facing label of a transfer state (rules.TransferStateLabel).
func TransferStateLabel(state string) string { return rules.TransferStateLabel(state) }

func transferBadgeClass(state string) string {
	switch state {
	case "completed":
		return "completed"
	case "failed":
		return "failed"
	default:
		return "storing"
	}
}

// TransferFailureText explains why a transfer failed, in plain words (rules.TransferFailureText).
func TransferFailureText(code, rail string) string { return rules.TransferFailureText(code, rail) }

// SideLabel names a direction for people.
func SideLabel(side string) string {
	if side == "withdrawal" {
		return "Withdrawal"
	}
	return "Deposit"
}

// RailLabel names a payment rail for people.
func RailLabel(rail string) string {
	if rail == "wire" {
		return "Wire"
	}
	return "ACH"
}

func cents(n int64) string { return Money(&n) }

func lower(s string) string { return strings.ToLower(s) }

// fieldError marks the field an error is about: invalid, described by the
// message (and its hint), and focused when the page loads, so a keyboard or
// screen reader user lands on what to fix.
func fieldError(f TransferForm, field, hint string) templ.Attributes {
	a := templ.Attributes{}
	if f.Error != "" && f.Field == field {
		a["aria-invalid"] = "true"
		a["autofocus"] = true
		a["aria-describedby"] = strings.TrimSpace("transfer-error " + hint)
	} else if hint != "" {
		a["aria-describedby"] = hint
	}
	return a
}
