package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// Admin is the admin side of the connections domain (*connections.Admin).
type Admin interface {
	Connections(ctx context.Context, q connections.AdminQuery) (connections.AdminList, error)
	Connection(ctx context.Context, guid string, flash int64) (connections.ConnectionDetail, error)
	Institutions(ctx context.Context) ([]store.Institution, error)
	Remind(ctx context.Context, admin store.User, guid string) (int64, error)
	Disconnect(ctx context.Context, admin store.User, guid string) (int64, error)
	StartRefresh(ctx context.Context, admin store.User, guid string) (int64, error)
	ForceRefreshRequired(ctx context.Context, admin store.User, guid string) (int64, error)
	LinkReview(ctx context.Context, admin store.User, id string) (connections.LinkReview, error)
	DeactivateUnselected(ctx context.Context, admin store.User, id string) error
	Emails(ctx context.Context, state string) ([]store.Email, error)
	SMTPEnabled() bool
}

var _ Admin = (*connections.Admin)(nil)

// AdminHome is the entry of the admin area.
func (h *Handler) AdminHome(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/admin/connections")
}

func adminRow(a store.Account, email string) views.AdminRow {
	name := a.AccountName
	if name == "" {
		name = a.Name
	}
	return views.AdminRow{GUID: a.GUID, Institution: a.InstitutionName, InstitutionID: a.InstitutionID, Name: name, Mask: a.AccountMask,
		State: a.State, CustomerGUID: a.CustomerGUID, CustomerEmail: email, ChangedAt: a.StateChangedAt}
}

// AdminConnections lists every connection, filtered, one keyset page at a time.
func (h *Handler) AdminConnections(c echo.Context) error {
	ctx := c.Request().Context()
	if h.syncer != nil {
		h.syncer.SyncIfStale(ctx)
	}
	f := views.AdminFilter{State: c.QueryParam("state"), Institution: c.QueryParam("institution"), Customer: c.QueryParam("customer"),
		BankLevel: c.QueryParam("bank") == "1"}
	after := c.QueryParam("after")
	list, err := h.admin.Connections(ctx, connections.AdminQuery{State: f.State, Institution: f.Institution, Customer: f.Customer,
		BankLevel: f.BankLevel, Cursor: after})
	if err != nil {
		return err
	}
	v := views.AdminConnectionsView{Filter: f, Next: list.Next, Paged: after != "", Note: list.Note, LinkEnabled: h.opts.LinkEnabled}
	for _, s := range store.States {
		v.Counts = append(v.Counts, views.StateCount{State: s, N: list.Counts[s]})
	}
	institutions, err := h.admin.Institutions(ctx)
	if err != nil {
		return err
	}
	for _, i := range institutions {
		label := i.ID
		if i.Name != "" {
			label = i.Name + " (" + i.ID + ")"
		}
		v.Institutions = append(v.Institutions, views.Option{Value: i.ID, Label: label})
	}
	for _, a := range list.Rows {
		v.Rows = append(v.Rows, adminRow(a, list.CustomerEmails[a.CustomerGUID]))
	}
	return Render(c, http.StatusOK, views.AdminConnectionsPage(h.Layout(c, "Bank connections", "admin"), v))
}

func (h *Handler) adminConnectionView(ctx context.Context, guid string, flash int64) (views.AdminConnectionView, error) {
	d, err := h.admin.Connection(ctx, guid, flash)
	if err != nil {
		return views.AdminConnectionView{}, err
	}
	a := d.Account
	v := views.AdminConnectionView{Row: adminRow(a, d.CustomerEmail), AccountKind: a.AccountKind, Asset: a.Asset, FailureCode: a.FailureCode,
		CreatedAt: a.CreatedAt, BalanceAvailable: a.BalanceAvailable, BalanceCurrent: a.BalanceCurrent, BalanceUpdatedAt: a.BalanceUpdatedAt,
		Sandbox: connections.SandboxBank(a), LinkEnabled: h.opts.LinkEnabled}
	for _, e := range d.Timeline {
		v.Timeline = append(v.Timeline, views.TimelineEntry{At: e.At, Kind: e.Kind, Title: e.Title, Detail: e.Detail, Result: e.Result})
	}
	if j := d.Refresh; j != nil {
		v.Refresh = &views.RefreshStatus{Running: j.State == store.RefreshRunning, Succeeded: j.State == store.RefreshSucceeded,
			Message: j.Message, StartedAt: j.CreatedAt, FinishedAt: j.FinishedAt}
	}
	if f := d.Flash; f != nil {
		title := map[string]string{store.AuditOK: "Done.", store.AuditFailed: "That did not work.", store.AuditStarted: "Started.",
			store.AuditRefused: "Refused."}[f.Result]
		v.Flash = &views.Flash{OK: f.Result != store.AuditFailed && f.Result != store.AuditRefused, Title: title, Message: f.Detail}
	}
	return v, nil
}

// AdminConnection shows one connection with its timeline and actions.
func (h *Handler) AdminConnection(c echo.Context) error {
	guid := c.Param("guid")
	if !validGUID(guid) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	flash, _ := strconv.ParseInt(c.QueryParam("done"), 10, 64)
	v, err := h.adminConnectionView(c.Request().Context(), guid, flash)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.AdminConnectionPage(h.Layout(c, v.Row.Institution, "admin"), v, views.AdminActionsFor(v.Subject())))
}

// AdminConfirm asks the admin to confirm an action before it is taken.
func (h *Handler) AdminConfirm(c echo.Context) error {
	guid := c.Param("guid")
	action, ok := views.AdminActionBySlug(c.Param("action"))
	if !validGUID(guid) || !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	v, err := h.adminConnectionView(c.Request().Context(), guid, 0)
	if err != nil {
		return err
	}
	if action.Action == rules.ForceRefreshRequired && !v.Sandbox {
		return echo.NewHTTPError(http.StatusNotFound) // a production bank: never offered
	}
	cv := views.AdminConfirmView{Row: v.Row, Action: action}
	if s := v.Subject(); !rules.AdminAllows(s, action.Action) {
		// The state changed since the page offered it: say why, offer no button.
		cv.Refusal = rules.Refusal(action.Action, s.State, s.BankLevel)
	}
	return Render(c, http.StatusOK, views.AdminConfirmPage(h.Layout(c, action.Label, "admin"), cv))
}

// adminAction runs a confirmed action and sends the admin back to the
// connection, where the audit entry is shown as the outcome.
func (h *Handler) adminAction(c echo.Context, run func(Admin, context.Context, store.User, string) (int64, error)) error {
	guid := c.Param("guid")
	if !validGUID(guid) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	u, _ := CurrentUser(c)
	id, err := run(h.admin, c.Request().Context(), u, guid)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/connections/"+guid+"?done="+strconv.FormatInt(id, 10))
}

// AdminRemind sends the customer a reconnect reminder.
func (h *Handler) AdminRemind(c echo.Context) error { return h.adminAction(c, Admin.Remind) }

// AdminDisconnect removes a connection on the platform.
func (h *Handler) AdminDisconnect(c echo.Context) error { return h.adminAction(c, Admin.Disconnect) }

// AdminRefresh starts an on-demand refresh in the background.
func (h *Handler) AdminRefresh(c echo.Context) error { return h.adminAction(c, Admin.StartRefresh) }

// AdminForceRefreshRequired expires a connection (at a sandbox bank only).
func (h *Handler) AdminForceRefreshRequired(c echo.Context) error {
	return h.adminAction(c, Admin.ForceRefreshRequired)
}

// AdminNotifications lists the email outbox.
func (h *Handler) AdminNotifications(c echo.Context) error {
	state := c.QueryParam("state")
	mails, err := h.admin.Emails(c.Request().Context(), state)
	if err != nil {
		return err
	}
	v := views.AdminNotificationsView{State: state, SMTPEnabled: h.admin.SMTPEnabled()}
	for _, m := range mails {
		v.Emails = append(v.Emails, views.EmailRow{ID: m.ID, To: m.To, Subject: m.Subject, Body: m.Body, State: m.State, Attempts: m.Attempts,
			LastError: m.LastError, CreatedAt: m.CreatedAt, SentAt: m.SentAt, Account: m.AccountGUID})
	}
	return Render(c, http.StatusOK, views.AdminNotificationsPage(h.Layout(c, "Notifications", "admin"), v))
}

func reviewAccount(a store.Account) views.ReviewAccount {
	r := adminRow(a, "")
	label := r.Name
	if r.Institution != "" {
		label = r.Institution + " " + label
	}
	if r.Mask != "" {
		label += " •••• " + r.Mask
	}
	return views.ReviewAccount{GUID: a.GUID, Label: label, State: a.State}
}

// AdminLinkReview shows what an admin's update of an organization connection
// changed, and which of the organization's connections were left unselected.
func (h *Handler) AdminLinkReview(c echo.Context) error {
	id := c.Param("id")
	if !validGUID(id) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	u, _ := CurrentUser(c)
	r, err := h.admin.LinkReview(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	v := views.AdminLinkReviewView{SessionID: id, Status: r.Status, Message: r.Message, NoSelection: r.NoSelection, Confirmed: r.Confirmed,
		LeftUnselected: r.LeftUnselected}
	if r.HasUpdated {
		ra := reviewAccount(r.Updated)
		v.Updated = &ra
	}
	for _, s := range r.Selected {
		v.Selected = append(v.Selected, s.Name+" •••• "+s.Mask)
	}
	for _, a := range r.Unselected {
		v.Unselected = append(v.Unselected, reviewAccount(a))
	}
	for _, e := range r.Deactivated {
		ra := views.ReviewAccount{GUID: e.AccountGUID, Label: e.AccountGUID}
		if a, ok := r.DeactivatedAccounts[e.AccountGUID]; ok {
			ra = reviewAccount(a)
		}
		ra.Result, ra.Detail = e.Result, e.Detail
		v.Deactivated = append(v.Deactivated, ra)
	}
	return Render(c, http.StatusOK, views.AdminLinkReviewPage(h.Layout(c, "Review the update", "admin"), v))
}

// AdminLinkReviewConfirm disconnects the unselected connections after the admin confirmed.
func (h *Handler) AdminLinkReviewConfirm(c echo.Context) error {
	id := c.Param("id")
	if !validGUID(id) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	u, _ := CurrentUser(c)
	if err := h.admin.DeactivateUnselected(c.Request().Context(), u, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/admin/link/"+id+"/review")
}
