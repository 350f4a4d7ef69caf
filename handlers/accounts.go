package handlers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// SyncJob is the job_status name of the platform sync.
const SyncJob = "sync"

func accountRow(a store.Account) views.AccountRow {
	name := a.AccountName
	if name == "" {
		name = a.Name
	}
	return views.AccountRow{
		GUID: a.GUID, Institution: a.InstitutionName, Name: name, Mask: a.AccountMask,
		State: a.State, FailureCode: a.FailureCode, UpdatedAt: a.UpdatedAt, DisconnectedBy: a.DisconnectedBy,
	}
}

// Accounts lists the signed-in customer's connections.
func (h *Handler) Accounts(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	if h.syncer != nil {
		h.syncer.SyncIfStale(ctx)
	}
	accounts, err := h.store.CustomerAccounts(ctx, u.CustomerGUID)
	if err != nil {
		return err
	}
	notes, err := h.store.ActiveNotifications(ctx, u.CustomerGUID)
	if err != nil {
		return err
	}
	job, err := h.store.Job(ctx, SyncJob)
	if err != nil {
		return err
	}
	queued, err := h.store.QueuedCompletions(ctx, u.CustomerGUID)
	if err != nil {
		return err
	}
	v := views.AccountsView{LinkEnabled: h.opts.LinkEnabled, LastUpdated: job.LastOKAt, SyncError: job.LastError != ""}
	finishing := map[string]bool{}
	for _, q := range queued {
		if q.Mode == "update" {
			finishing[q.AccountGUID] = true
			continue
		}
		// A new account whose creation is still queued: show it, marked finishing.
		v.Rows = append(v.Rows, views.AccountRow{Institution: q.InstitutionName, Name: q.AccountName, Mask: q.AccountMask,
			State: "storing", Finishing: true, UpdatedAt: q.CreatedAt})
	}
	for _, a := range accounts {
		r := accountRow(a)
		r.Finishing = finishing[a.GUID]
		v.Rows = append(v.Rows, r)
	}
	for _, n := range notes {
		v.Banners = append(v.Banners, views.Banner{ID: n.ID, Message: n.Message, Kind: n.Kind})
	}
	if v.Transfers, err = h.transferRows(ctx, u, accounts); err != nil {
		return err
	}
	v.Rows = keepOrder(v.Rows, c.QueryParam("order"))
	return Render(c, http.StatusOK, views.AccountsPage(h.Layout(c, "Your bank connections", "accounts"), v))
}

// Account shows one of the signed-in customer's connections; anyone else's is a 404.
func (h *Handler) Account(c echo.Context) error {
	u, _ := CurrentUser(c)
	guid := c.Param("guid")
	if !validGUID(guid) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	ctx := c.Request().Context()
	a, err := h.store.CustomerAccount(ctx, u.CustomerGUID, guid)
	if err != nil {
		return err
	}
	queued, err := h.store.QueuedCompletions(ctx, u.CustomerGUID)
	if err != nil {
		return err
	}
	v := views.AccountView{
		Row: accountRow(a), AccountKind: a.AccountKind, Asset: a.Asset, CreatedAt: a.CreatedAt,
		BalanceAvailable: a.BalanceAvailable, BalanceCurrent: a.BalanceCurrent, BalanceUpdatedAt: a.BalanceUpdatedAt,
		LinkEnabled: h.opts.LinkEnabled,
	}
	for _, q := range queued {
		if q.AccountGUID == a.GUID {
			v.Row.Finishing = true
		}
	}
	if v.Transfer, err = h.transferPanel(ctx, u, a, views.TransferForm{}); err != nil {
		return err
	}
	v.Sent = h.sentTransfer(ctx, u, a.GUID, c.QueryParam("sent"))
	return Render(c, http.StatusOK, views.AccountPage(h.Layout(c, v.Row.Institution, "accounts"), v))
}

// DismissNotification hides one of the customer's banners.
func (h *Handler) DismissNotification(c echo.Context) error {
	u, _ := CurrentUser(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err := h.store.DismissNotification(c.Request().Context(), u.CustomerGUID, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/accounts")
}

// keepOrder puts the rows in the order the page already shows them (the live
// refresh sends it as order=guid,guid,...), so a row whose state changes
// stays where it was; rows the page does not show yet follow, in the usual
// order. Unknown or malformed guids are ignored.
func keepOrder(rows []views.AccountRow, order string) []views.AccountRow {
	if order == "" {
		return rows
	}
	pos := map[string]int{}
	for i, g := range strings.SplitN(order, ",", maxKeptOrder+1) {
		if i == maxKeptOrder {
			break
		}
		if _, seen := pos[g]; validGUID(g) && !seen {
			pos[g] = len(pos)
		}
	}
	rank := func(r views.AccountRow) int {
		if i, ok := pos[r.GUID]; ok && r.GUID != "" {
			return i
		}
		return len(pos)
	}
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b views.AccountRow) int { return rank(a) - rank(b) })
	return out
}

// maxKeptOrder bounds the guids read from order=.
const maxKeptOrder = 500

// validGUID tells whether s has the platform's guid shape.
func validGUID(s string) bool { return store.ValidGUID(s) }
