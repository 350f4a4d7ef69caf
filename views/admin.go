package views

import (
	"net/url"
	"strconv"
	"time"

	"github.com/bankconnections/portal/rules"
)

// AdminFilter is the admin tab's filter as shown in the form.
type AdminFilter struct {
	State       string
	Institution string
	Customer    string
	BankLevel   bool
}

// Query encodes the filter (and an optional cursor) as a query string.
func (f AdminFilter) Query(cursor string) string {
	q := url.Values{}
	if f.State != "" {
		q.Set("state", f.State)
	}
	if f.Institution != "" {
		q.Set("institution", f.Institution)
	}
	if f.Customer != "" {
		q.Set("customer", f.Customer)
	}
	if f.BankLevel {
		q.Set("bank", "1")
	}
	if cursor != "" {
		q.Set("after", cursor)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// WithState is the filter with another state.
func (f AdminFilter) WithState(s string) AdminFilter { f.State = s; return f }

// StateCount is one state's count at the top of the tab.
type StateCount struct {
	State string
	N     int
}

// Option is a choice in a select.
type Option struct{ Value, Label string }

// AdminRow is one connection on the admin tab.
type AdminRow struct {
	GUID          string
	Institution   string
	InstitutionID string
	Name          string
	Mask          string
	State         string
	CustomerGUID  string
	CustomerEmail string
	ChangedAt     time.Time
}

// BankLevel tells whether the row is one of the organization's own connections.
func (r AdminRow) BankLevel() bool { return r.CustomerGUID == "" }

// CanUpdate tells whether an admin may open Link in update mode on the connection.
func (r AdminRow) CanUpdate() bool {
	return rules.AdminAllows(rules.AdminSubject{State: r.State, BankLevel: r.BankLevel()}, rules.Update)
}

// AdminConnectionsView is /admin/connections.
type AdminConnectionsView struct {
	Counts       []StateCount
	Filter       AdminFilter
	Institutions []Option
	Rows         []AdminRow
	Next         string // cursor of the next page
	Paged        bool   // this is not the first page
	Note         string
	LinkEnabled  bool
}

// TimelineEntry is one line of a connection's timeline.
type TimelineEntry struct {
	At     time.Time
	Kind   string
	Title  string
	Detail string
	Result string
}

// RefreshStatus is the last on-demand refresh of a connection.
type RefreshStatus struct {
	Running    bool
	Succeeded  bool
	Message    string
	StartedAt  time.Time
	FinishedAt *time.Time
}

// Flash is the outcome of the action just taken.
type Flash struct {
	OK      bool
	Title   string
	Message string
}

// AdminConnectionView is /admin/connections/{guid}.
type AdminConnectionView struct {
	Row              AdminRow
	AccountKind      string
	Asset            string
	FailureCode      string
	CreatedAt        time.Time
	BalanceAvailable *int64
	BalanceCurrent   *int64
	BalanceUpdatedAt *time.Time
	Timeline         []TimelineEntry
	Refresh          *RefreshStatus
	Flash            *Flash
	Sandbox          bool // the connection is at a sandbox bank of the platform
	LinkEnabled      bool
}

// Obsolete tells whether the connection was disconnected: it can only be linked anew.
func (v AdminConnectionView) Obsolete() bool { return rules.Obsolete(v.Row.State) }

// Subject is what the admin rules need to know about the connection.
func (v AdminConnectionView) Subject() rules.AdminSubject {
	return rules.AdminSubject{State: v.Row.State, BankLevel: v.Row.BankLevel(), Sandbox: v.Sandbox, RefreshRunning: v.Refresh != nil && v.Refresh.Running}
}

// AdminActionsFor lists the actions the rules allow on a connection, as the admin page offers them.
func AdminActionsFor(s rules.AdminSubject) []AdminAction {
	var out []AdminAction
	for _, a := range rules.AdminActions(s) {
		out = append(out, adminActions[a])
	}
	return out
}

// AdminActionBySlug finds a confirmable action by its URL segment.
func AdminActionBySlug(slug string) (AdminAction, bool) {
	for _, a := range adminActions {
		if a.Slug == slug && a.Slug != "" {
			return a, true
		}
	}
	return AdminAction{}, false
}

// adminActions are the admin's actions as the pages show them.
var adminActions = map[rules.Action]AdminAction{
	rules.Update: {Action: rules.Update, TestID: "action-update", Label: "Update connection",
		Explain: "Opens Plaid Link at this bank to update the login or the shared account, ahead of an expiry or after one."},
	rules.Remind: {Action: rules.Remind, Slug: "remind", TestID: "action-remind", Label: "Send a reconnect reminder",
		Explain: "The customer sees a banner on their accounts page and gets an email asking them to reconnect."},
	rules.Refresh: {Action: rules.Refresh, Slug: "refresh", TestID: "action-refresh", Label: "Refresh now",
		Explain: "The platform asks the bank for fresh balances and transactions. This runs in the background and can take 30 seconds or more."},
	rules.Disconnect: {Action: rules.Disconnect, Slug: "disconnect", TestID: "action-disconnect", Label: "Disconnect", Danger: true,
		Explain: "The platform removes the connection. It becomes obsolete: it can no longer be updated, only linked again as a new connection."},
	rules.ForceRefreshRequired: {Action: rules.ForceRefreshRequired, Slug: "force-refresh-required", TestID: "action-force-refresh-required",
		Label: "Force refresh required (sandbox)", Danger: true,
		Explain: "Sandbox banks only: the platform marks the connection as expired, as if the bank login had ended, and the customer is notified."},
}

// AdminAction is one confirmable action.
type AdminAction struct {
	Action  rules.Action
	Slug    string // URL segment of its confirmation: remind, disconnect, refresh, force-refresh-required; empty: opens Link
	TestID  string
	Label   string
	Explain string
	Danger  bool
}

// AdminConfirmView asks to confirm an action.
type AdminConfirmView struct {
	Row    AdminRow
	Action AdminAction
	// Refusal, when set, says why the connection's state no longer allows the action: no button is shown.
	Refusal string
}

// EmailRow is one message of the outbox.
type EmailRow struct {
	ID        int64
	To        string
	Subject   string
	Body      string
	State     string
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
	Account   string
}

// AdminNotificationsView is /admin/notifications.
type AdminNotificationsView struct {
	State       string
	Emails      []EmailRow
	SMTPEnabled bool
}

// ReviewAccount is an account on the Link review page.
type ReviewAccount struct {
	GUID   string
	Label  string
	State  string
	Result string
	Detail string
}

// AdminLinkReviewView is /admin/link/{id}/review.
type AdminLinkReviewView struct {
	SessionID   string
	Status      string // finishing, failed, ready
	Message     string
	Updated     *ReviewAccount
	Selected    []string
	NoSelection bool
	Unselected  []ReviewAccount
	Deactivated []ReviewAccount
	Confirmed   bool
	// LeftUnselected: the updated connection's own account was not selected in Link.
	LeftUnselected bool
}

func itoaInt(n int) string { return strconv.Itoa(n) }

func resultClass(r string) string {
	switch r {
	case "ok":
		return "completed"
	case "failed", "refused":
		return "failed"
	default:
		return "storing"
	}
}

func outboxClass(s string) string {
	switch s {
	case "sent":
		return "completed"
	case "failed":
		return "failed"
	default:
		return "storing"
	}
}

func outboxURL(state string) string {
	if state == "" {
		return "/admin/notifications"
	}
	return "/admin/notifications?state=" + state
}

func outboxLabel(state string) string {
	switch state {
	case "":
		return "All"
	case "queued":
		return "Queued"
	case "sent":
		return "Sent"
	default:
		return "Failed"
	}
}
