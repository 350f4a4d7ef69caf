// Package views holds the portal's templ components and their view models.
// Components are pure functions of their arguments: no Echo, no store.
package views

import (
	"fmt"
	"time"
)

// Layout carries what every page needs.
type Layout struct {
	Title     string
	SignedIn  bool
	UserEmail string
	IsAdmin   bool
	CSRF      string
	CSS       string   // hashed stylesheet URL
	Scripts   []string // script URLs, in order
	Icon      string   // hashed favicon URL
	// Nav marks the current section: "accounts" or "admin".
	Nav string
}

// stateLabels are the words the portal shows for the platform's seven states.
var stateLabels = map[string]string{
	"storing":          "Pending",
	"completed":        "Connected",
	"unverified":       "Unverified",
	"failed":           "Failed",
	"refresh_required": "Refresh required",
	"deleting":         "Disconnecting",
	"deleted":          "Disconnected",
}

// StateLabel returns the customer-facing label of a platform state.
func StateLabel(state string) string {
	if l, ok := stateLabels[state]; ok {
		return l
	}
	return "Unknown"
}

var failureTexts = map[string]string{
	"invalid_routing_number":  "The bank's routing number was not accepted.",
	"invalid_account_number":  "The account number was not accepted.",
	"invalid_account_type":    "This type of account cannot be connected.",
	"duplicate":               "This account is already connected.",
	"plaid_processor_token":   "The bank connection could not be set up.",
	"plaid_multiple_accounts": "More than one account was chosen; connect one account at a time.",
	"create_failed":           "The connection could not be created.",
	"unverified_counterparty": "The account holder could not be verified.",
}

// FailureText explains a platform failure code in plain words.
func FailureText(code string) string {
	if t, ok := failureTexts[code]; ok {
		return t
	}
	if code == "" {
		return "The connection could not be completed."
	}
	return "The connection could not be completed (" + code + ")."
}

// AccountRow is one connection as the customer sees it.
type AccountRow struct {
	GUID        string
	Institution string
	Name        string
	Mask        string
	State       string
	FailureCode string
	Finishing   bool // a completion is queued for retry
	UpdatedAt   time.Time
}

// NeedsRefresh tells whether the row must be reconnected before it can be used.
func (r AccountRow) NeedsRefresh() bool { return r.State == "refresh_required" }

// Attention tells whether the customer has something to do or to know about.
func (r AccountRow) Attention() bool { return r.State == "refresh_required" || r.State == "failed" }

// Banner is an in-app notification.
type Banner struct {
	ID      int64
	Message string
	Kind    string
}

// AccountsView is the /accounts page.
type AccountsView struct {
	Rows        []AccountRow
	Banners     []Banner
	LastUpdated *time.Time // last successful sync; nil when never synced
	SyncError   bool       // the last sync attempt failed: the data may be old
	LinkEnabled bool
	Transfers   []TransferRow // the customer's recent transfers
}

// AccountView is the /accounts/{guid} page.
type AccountView struct {
	Row              AccountRow
	AccountKind      string
	Asset            string
	CreatedAt        time.Time
	BalanceAvailable *int64
	BalanceCurrent   *int64
	BalanceUpdatedAt *time.Time
	LinkEnabled      bool
	Transfer         TransferPanelView // deposit/withdraw form or why not, and recent transfers
	Sent             *TransferSent     // the transfer just confirmed, when the page follows a confirmation
}

// LoginView is the login form.
type LoginView struct {
	Email string
	Error string
}

// ErrorView is a friendly error page.
type ErrorView struct {
	Status  int
	Heading string
	Message string
}

// Money formats cents as dollars, one way everywhere: $10,000.00.
func Money(cents *int64) string {
	if cents == nil {
		return "—"
	}
	c := *cents
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	whole := fmt.Sprint(c / 100)
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return fmt.Sprintf("%s$%s.%02d", sign, whole, c%100)
}

// When formats a time for people, in UTC.
func When(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("Jan 2, 2006 15:04 UTC")
}

// WhenPtr formats an optional time.
func WhenPtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return When(*t)
}

func maskText(mask string) string {
	if mask == "" {
		return ""
	}
	return "•••• " + mask
}

func institutionText(name string) string {
	if name == "" {
		return "Bank account"
	}
	return name
}

func itoa(n int64) string { return fmt.Sprint(n) }
