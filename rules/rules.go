// Package rules is the one home of what a connection's state means to people:
// what each state is called, which actions it allows (for the customer and
// for admins), what each banner says and while which state it holds, why a
// disconnected connection is gone, and how money and dates are written.
// Handlers, views, the admin tab, the domain and the Link glue (through the
// data-state attributes the views write) all read these rules from here.
// It is pure: no I/O, and it imports none of the portal's packages, so views
// may import it too.
package rules

import (
	"fmt"
	"slices"
	"time"
)

// The platform's seven states of an external bank account (a connection).
const (
	Storing         = "storing"
	Completed       = "completed"
	Unverified      = "unverified"
	Failed          = "failed"
	RefreshRequired = "refresh_required"
	Deleting        = "deleting"
	Deleted         = "deleted"
)

// States lists every state in the order the portal presents them.
var States = []string{RefreshRequired, Failed, Storing, Unverified, Completed, Deleting, Deleted}

var labels = map[string]string{
	Storing:         "Pending",
	Completed:       "Connected",
	Unverified:      "Unverified",
	Failed:          "Failed",
	RefreshRequired: "Refresh required",
	Deleting:        "Disconnecting",
	Deleted:         "Disconnected",
}

// Label is what the portal calls a state, for customers and admins alike.
func Label(state string) string { return wordsFor(labels, state, "Unknown") }

// wordsFor returns the plain words table has for code, or otherwise when it has none.
func wordsFor(table map[string]string, code, otherwise string) string {
	if w, ok := table[code]; ok {
		return w
	}
	return otherwise
}

// Active tells whether a connection still works or can be made to work with
// its bank login: it can be updated in Link, refreshed and expired.
func Active(state string) bool {
	return state == Completed || state == Unverified || state == RefreshRequired
}

// Obsolete tells whether a connection was disconnected: it can only be linked anew.
func Obsolete(state string) bool { return state == Deleting || state == Deleted }

// Action is something a person can do to one connection.
type Action string

// The customer's actions.
const (
	// Reconnect opens Link in update mode for an expired connection.
	Reconnect Action = "reconnect"
	// LinkAgain opens Link in create mode for a connection that cannot be
	// repaired (disconnected or failed): it becomes a new connection.
	LinkAgain Action = "link_again"
	// Hide takes a disconnected connection off the customer's list.
	Hide Action = "hide"
)

// The admin's actions.
const (
	Remind               Action = "remind"
	Refresh              Action = "refresh"
	ForceRefreshRequired Action = "force_refresh_required"
	Disconnect           Action = "disconnect"
	// Update opens Link in update mode on one of the organization's own
	// connections while it is still active, not only after it expired.
	Update Action = "update"
)

// CustomerSubject is what the customer's actions on a connection depend on.
type CustomerSubject struct {
	State string
	// Finishing: a reconnect of it is queued for the platform; the customer
	// already signed in to the bank, so nothing is asked of them meanwhile.
	Finishing bool
}

// CustomerActions are the actions a customer is offered on their connection.
func CustomerActions(s CustomerSubject) []Action {
	switch s.State {
	case RefreshRequired:
		if s.Finishing {
			return nil
		}
		return []Action{Reconnect}
	case Failed:
		return []Action{LinkAgain}
	case Deleted:
		return []Action{LinkAgain, Hide}
	}
	return nil
}

// AdminSubject is what the admin actions on a connection depend on.
type AdminSubject struct {
	State          string
	BankLevel      bool // one of the organization's own connections (no customer)
	Sandbox        bool // sandbox-only actions are available
	RefreshRunning bool // an on-demand refresh of it is running
}

// AdminActions are the actions an admin is offered on a connection, in the
// order the admin page shows them.
func AdminActions(s AdminSubject) []Action {
	var out []Action
	if s.BankLevel && Active(s.State) {
		out = append(out, Update)
	}
	if s.State == RefreshRequired && !s.BankLevel {
		out = append(out, Remind)
	}
	if Active(s.State) && !s.RefreshRunning {
		out = append(out, Refresh)
	}
	if s.Sandbox && (s.State == Completed || s.State == Unverified) {
		out = append(out, ForceRefreshRequired)
	}
	if !Obsolete(s.State) {
		out = append(out, Disconnect)
	}
	return out
}

// CustomerAllows tells whether a customer may take action a on the connection.
func CustomerAllows(s CustomerSubject, a Action) bool { return slices.Contains(CustomerActions(s), a) }

// AdminAllows tells whether an admin may take action a on the connection.
func AdminAllows(s AdminSubject, a Action) bool { return slices.Contains(AdminActions(s), a) }

// Refusal explains, in the words of the person who asked, why an action is
// not available in a state.
func Refusal(a Action, state string, bankLevel bool) string {
	if Obsolete(state) {
		switch a {
		case Reconnect, Update:
			return "This connection was disconnected and can no longer be updated. Link the account again instead."
		case Refresh:
			return "This connection was disconnected: there is nothing to refresh."
		case Disconnect:
			return "This connection is already disconnected."
		}
		return "This connection was disconnected: it can only be linked again as a new connection."
	}
	switch a {
	case Reconnect:
		if state == RefreshRequired {
			return "Your reconnect of this connection is still being finished with the bank platform. Wait a moment: nothing more is needed from you."
		}
		return "This connection does not need reconnecting: it is " + Label(state) + "."
	case Update:
		if !bankLevel {
			return "Only the customer can update their own bank login."
		}
		return "A connection that is " + Label(state) + " cannot be updated in Link."
	case Remind:
		if bankLevel {
			return "This is one of the organization's own connections: there is no customer to remind. Update it yourself."
		}
		return "Only a connection that needs a refresh can get a reconnect reminder; this one is " + Label(state) + "."
	case Refresh:
		return "A connection that is " + Label(state) + " cannot be refreshed now."
	case ForceRefreshRequired:
		return "Only a connected or unverified connection can be expired; this one is " + Label(state) + "."
	case Hide:
		return "Only a disconnected connection can be hidden."
	case LinkAgain:
		return "This connection still exists: it does not need linking again."
	}
	return "That cannot be done now."
}

// Banner kinds. Every banner belongs to one connection and holds only while
// the connection is in its reason state (ReasonState).
const (
	BannerRefreshRequired  = "refresh_required"
	BannerReminder         = "reminder"
	BannerCompletionFailed = "completion_failed"
)

// ReasonState is the state a banner of kind is about: it is shown only while
// its connection is in that state. A failed create has no connection: "".
func ReasonState(kind string, hasConnection bool) string {
	switch kind {
	case BannerRefreshRequired, BannerReminder:
		return RefreshRequired
	case BannerCompletionFailed:
		if hasConnection {
			return RefreshRequired // a reconnect that did not finish: still expired
		}
	}
	return ""
}

// RefreshRequiredBanner tells the customer a connection expired.
func RefreshRequiredBanner(institution string) string {
	return fmt.Sprintf("Your connection to %s needs attention: reconnect it to keep using the account.", Institution(institution))
}

// ReminderBanner is the admin's reconnect reminder.
func ReminderBanner(institution string) string {
	return fmt.Sprintf("Reminder from your bank: your connection to %s has expired. Reconnect it to keep using the account.", Institution(institution))
}

// CompletionFailedBanner says that a finished Link flow could not be used.
func CompletionFailedBanner(update bool, account, why string) string {
	if update {
		return "We could not finish reconnecting your account: " + why
	}
	return fmt.Sprintf("We could not finish linking %s: %s Please link it again.", account, why)
}

// Institution names a bank for people.
func Institution(name string) string {
	if name == "" {
		return "your bank"
	}
	return name
}

// DisconnectedReason says in plain words why a connection is disconnected,
// from who first saw it go: "admin" (the bank's staff), "customer" (the
// customer, after leaving it unselected in Link), anything else (the platform).
func DisconnectedReason(source string) string {
	switch source {
	case "admin":
		return "Your bank disconnected this connection. It can no longer be used or reconnected; link the account again to use it."
	case "customer":
		return "You disconnected this connection when you left the account unselected in Link. Link the account again to use it."
	}
	return "The bank platform removed this connection. It can no longer be used or reconnected; link the account again to use it."
}

var failureTexts = map[string]string{
	"invalid_routing_number":  "The bank's routing number was not accepted.",
	"invalid_account_number":  "The account number was not accepted.",
	"invalid_account_type":    "This type of account cannot be connected.",
	"duplicate":               "The bank platform did not connect this account because it matched one already on file.",
	"plaid_processor_token":   "The bank connection could not be set up.",
	"plaid_multiple_accounts": "More than one account was chosen; connect one account at a time.",
	"create_failed":           "The connection could not be created.",
	"unverified_counterparty": "The account holder could not be verified.",
}

// FailureText explains a platform failure code in plain words. It never
// claims that a failed connection is connected.
func FailureText(code string) string {
	if code == "" {
		return "The connection could not be completed."
	}
	return wordsFor(failureTexts, code, "The connection could not be completed ("+code+").")
}

// Money writes cents as dollars; unknown is a dash.
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

// When writes a time for people, in UTC.
func When(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("Jan 2, 2006 15:04 UTC")
}
