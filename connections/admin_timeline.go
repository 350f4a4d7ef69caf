package connections

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/bankconnections/portal/store"
)

// TimelineEntry is one thing that happened to a connection.
type TimelineEntry struct {
	At     time.Time
	Kind   string // state, link, action, notification, email
	Title  string
	Detail string
	Result string // for actions: ok, failed, started, refused
}

// ConnectionDetail is everything the admin detail page shows.
type ConnectionDetail struct {
	Account       store.Account
	CustomerEmail string
	Timeline      []TimelineEntry // newest first
	Refresh       *store.RefreshJob
	Flash         *store.AuditEntry // the action just taken, when asked for
}

// Connection returns a connection with its merged timeline. flash names an
// audit entry of this connection to show as the outcome of the last action.
func (a *Admin) Connection(ctx context.Context, guid string, flash int64) (ConnectionDetail, error) {
	var d ConnectionDetail
	acct, err := a.db.Account(ctx, guid)
	if err != nil {
		return d, err
	}
	d.Account = acct
	if acct.CustomerGUID != "" {
		if u, err := a.db.UserByCustomerGUID(ctx, acct.CustomerGUID); err == nil {
			d.CustomerEmail = u.Email
		}
	}
	changes, err := a.db.StateChanges(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, c := range changes {
		title := "State: " + c.To
		if c.From != "" {
			title = "State: " + c.From + " → " + c.To
		}
		d.Timeline = append(d.Timeline, TimelineEntry{At: c.At, Kind: "state", Title: title, Detail: "observed by " + c.Source})
	}
	events, err := a.db.LinkEventsForAccount(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, e := range events {
		title := "Link " + e.Kind
		if e.EventName != "" {
			title += ": " + e.EventName
		}
		var parts []string
		for _, p := range []struct{ k, v string }{{"view", e.ViewName}, {"error", e.ErrorCode}, {"exit status", e.ExitStatus}, {"institution", e.InstitutionID}} {
			if p.v != "" {
				parts = append(parts, p.k+" "+p.v)
			}
		}
		d.Timeline = append(d.Timeline, TimelineEntry{At: e.At, Kind: "link", Title: title, Detail: strings.Join(parts, ", ")})
	}
	audits, err := a.db.AuditForAccount(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, e := range audits {
		d.Timeline = append(d.Timeline, TimelineEntry{At: e.At, Kind: "action", Title: actionTitle(e.Action) + " by " + e.ActorEmail,
			Detail: e.Detail, Result: e.Result})
		if flash != 0 && e.ID == flash {
			f := e
			d.Flash = &f
		}
	}
	notes, err := a.db.AccountNotifications(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, n := range notes {
		d.Timeline = append(d.Timeline, TimelineEntry{At: n.CreatedAt, Kind: "notification", Title: "Banner to the customer (" + n.Kind + ")", Detail: n.Message})
	}
	mails, err := a.db.EmailsForAccount(ctx, guid)
	if err != nil {
		return d, err
	}
	for _, m := range mails {
		d.Timeline = append(d.Timeline, TimelineEntry{At: m.CreatedAt, Kind: "email", Title: "Email to " + m.To + ": " + m.Subject, Detail: "outbox: " + m.State})
	}
	sort.SliceStable(d.Timeline, func(i, j int) bool { return d.Timeline[i].At.After(d.Timeline[j].At) })
	if j, err := a.db.LatestRefreshJob(ctx, guid); err == nil {
		d.Refresh = &j
	} else if !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	return d, nil
}

var actionTitles = map[string]string{
	"remind":                 "Reconnect reminder",
	"disconnect":             "Disconnect",
	"deactivate":             "Deactivated (not selected in Link)",
	"refresh":                "On-demand refresh",
	"force_refresh_required": "Forced refresh required (sandbox)",
	"review":                 "Account review after a Link update",
}

func actionTitle(a string) string {
	if t, ok := actionTitles[a]; ok {
		return t
	}
	return a
}
