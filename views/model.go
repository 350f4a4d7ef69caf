// Package views holds the portal's templ components and their view models.
// Components are pure functions of their arguments: no Echo, no store.
package views

import (
	"fmt"
	"time"

	"github.com/bankconnections/portal/rules"
)

// Layout carries what every page needs.
type Layout struct {
	Title     string
	SignedIn  bool
	UserEmail string
	IsAdmin   bool
	CSRF      string
	// Nonce is this response's CSP nonce, put on the page's own script and
	// style tags (Link's SDK reads it from its script tag).
	Nonce   string
	CSS     string   // hashed stylesheet URL
	Scripts []string // script URLs, in order
	Icon    string   // hashed favicon URL
	// Nav marks the current section: "accounts" or "admin".
	Nav string
	// Demo is the Demo controls panel; nil outside the demo.
	Demo *DemoPanel
}

// StateLabel returns the label of a platform state (rules.Label).
func StateLabel(state string) string { return rules.Label(state) }

// FailureText explains a platform failure code in plain words (rules.FailureText).
func FailureText(code string) string { return rules.FailureText(code) }

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
	// DisconnectedBy is who first saw a disconnected connection go (admin, customer, sync).
	DisconnectedBy string
}

// NeedsRefresh tells whether the row must be reconnected before it can be used.
func (r AccountRow) NeedsRefresh() bool { return r.State == rules.RefreshRequired }

// Subject is what the customer's actions on the row depend on.
func (r AccountRow) Subject() rules.CustomerSubject {
	return rules.CustomerSubject{State: r.State, Finishing: r.Finishing}
}

// CanReconnect tells whether the customer is offered Reconnect (not while a reconnect is finishing).
func (r AccountRow) CanReconnect() bool { return rules.CustomerAllows(r.Subject(), rules.Reconnect) }

// CanLinkAgain tells whether the account can only be used again by linking it anew.
func (r AccountRow) CanLinkAgain() bool { return rules.CustomerAllows(r.Subject(), rules.LinkAgain) }

// CanHide tells whether the customer may take the row off their list.
func (r AccountRow) CanHide() bool { return rules.CustomerAllows(r.Subject(), rules.Hide) }

// Disconnected tells whether the connection was removed for good.
func (r AccountRow) Disconnected() bool { return r.State == rules.Deleted }

// DisconnectedReason says why, in plain words.
func (r AccountRow) DisconnectedReason() string { return rules.DisconnectedReason(r.DisconnectedBy) }

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

// UnselectedReviewView is /link/{id}/review: the customer left the account
// of the connection they updated unselected in Link.
type UnselectedReviewView struct {
	SessionID    string
	Row          AccountRow
	Disconnected bool // already answered, or gone anyway
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

// Money formats cents as dollars (rules.Money).
func Money(cents *int64) string { return rules.Money(cents) }

// When formats a time for people, in UTC (rules.When).
func When(t time.Time) string { return rules.When(t) }

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
