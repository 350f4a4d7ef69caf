package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// Transfers is money movement of the connections domain (*connections.Transfers).
type Transfers interface {
	Limit() int64
	Quote(ctx context.Context, u store.User, accountGUID string, in connections.TransferRequest) (store.Transfer, error)
	Transfer(ctx context.Context, u store.User, key string) (store.Transfer, error)
	Confirm(ctx context.Context, u store.User, key string) (store.Transfer, error)
	Recent(ctx context.Context, customerGUID, accountGUID string, limit int) ([]store.Transfer, error)
}

var _ Transfers = (*connections.Transfers)(nil)

const recentTransfers = 10

func transferRow(t store.Transfer, a store.Account) views.TransferRow {
	return views.TransferRow{Key: t.Key, AccountGUID: t.AccountGUID, Institution: a.InstitutionName, Mask: a.AccountMask,
		Side: t.Side, Rail: t.Rail, Amount: t.Amount, State: t.State, FailureCode: t.FailureCode, CreatedAt: t.CreatedAt}
}

// transferPanel builds a connection's money-movement section.
func (h *Handler) transferPanel(ctx context.Context, u store.User, a store.Account, form views.TransferForm) (views.TransferPanelView, error) {
	if h.transfers == nil {
		return views.TransferPanelView{Off: true}, nil
	}
	form.Limit = h.transfers.Limit()
	p := views.TransferPanelView{Enabled: true, AccountGUID: a.GUID, Blocked: connections.BlockedReason(a.State), Form: form}
	list, err := h.transfers.Recent(ctx, u.CustomerGUID, a.GUID, recentTransfers)
	if err != nil {
		return p, err
	}
	for _, t := range list {
		p.Transfers = append(p.Transfers, transferRow(t, a))
	}
	return p, nil
}

// transferRows lists the customer's recent transfers for the accounts page.
func (h *Handler) transferRows(ctx context.Context, u store.User, accounts []store.Account) ([]views.TransferRow, error) {
	if h.transfers == nil {
		return nil, nil
	}
	list, err := h.transfers.Recent(ctx, u.CustomerGUID, "", recentTransfers)
	if err != nil {
		return nil, err
	}
	byGUID := map[string]store.Account{}
	for _, a := range accounts {
		byGUID[a.GUID] = a
	}
	rows := make([]views.TransferRow, 0, len(list))
	for _, t := range list {
		rows = append(rows, transferRow(t, byGUID[t.AccountGUID]))
	}
	return rows, nil
}

func (h *Handler) transferSide() (Transfers, error) {
	if h.transfers == nil {
		return nil, echo.NewHTTPError(http.StatusForbidden, "Deposits and withdrawals are not enabled.")
	}
	return h.transfers, nil
}

// QuoteTransfer checks a deposit or withdrawal, asks the platform for a
// quote and sends the customer to confirm it. Refused input shows the form
// again with the reason; nothing is created.
func (h *Handler) QuoteTransfer(c echo.Context) error {
	u, _ := CurrentUser(c)
	guid := c.Param("guid")
	if !validGUID(guid) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	tx, err := h.transferSide()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := h.store.CustomerAccount(ctx, u.CustomerGUID, guid)
	if err != nil {
		return err
	}
	in := connections.TransferRequest{Amount: clip(strings.TrimSpace(c.FormValue("amount")), 64), Side: c.FormValue("side"), Rail: c.FormValue("rail")}
	t, err := tx.Quote(ctx, u, a.GUID, in)
	var ce *connections.Error
	if errors.As(err, &ce) {
		p, perr := h.transferPanel(ctx, u, a, views.TransferForm{Amount: in.Amount, Side: in.Side, Rail: in.Rail, Error: ce.Message, Field: transferField(ce.Code)})
		if perr != nil {
			return perr
		}
		v := views.TransferFormView{Institution: a.InstitutionName, Mask: a.AccountMask, Panel: p}
		return Render(c, Status(ce.Kind), views.TransferFormPage(h.Layout(c, "Move money", "accounts"), v))
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/transfers/"+t.Key)
}

// TransferQuote shows a quote to confirm; once confirmed, the transfer is
// followed on its connection's page.
func (h *Handler) TransferQuote(c echo.Context) error {
	u, _ := CurrentUser(c)
	key := c.Param("key")
	if !validGUID(key) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	tx, err := h.transferSide()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := tx.Transfer(ctx, u, key)
	if err != nil {
		return err
	}
	if t.State != store.TransferQuoted {
		return c.Redirect(http.StatusSeeOther, "/accounts/"+t.AccountGUID+"#transfers")
	}
	a, err := h.store.CustomerAccount(ctx, u.CustomerGUID, t.AccountGUID)
	if err != nil {
		return err
	}
	v := views.TransferQuoteView{Key: t.Key, AccountGUID: a.GUID, Institution: a.InstitutionName, Mask: a.AccountMask,
		Side: t.Side, Rail: t.Rail, Amount: t.Amount, Fee: t.Fee, ExpiresAt: t.QuoteExpiresAt, Expired: t.QuoteExpired(time.Now())}
	return Render(c, http.StatusOK, views.TransferQuotePage(h.Layout(c, "Confirm your transfer", "accounts"), v))
}

// ConfirmTransfer sends the quoted transfer, once however often the form is
// submitted, and shows it on its connection's page.
func (h *Handler) ConfirmTransfer(c echo.Context) error {
	u, _ := CurrentUser(c)
	key := c.Param("key")
	if !validGUID(key) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	tx, err := h.transferSide()
	if err != nil {
		return err
	}
	t, err := tx.Confirm(c.Request().Context(), u, key)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/accounts/"+t.AccountGUID+"?sent="+t.Key+"#transfers")
}

// transferField names the form field a refusal is about, so the form can mark it.
func transferField(code string) string {
	switch code {
	case "invalid_amount":
		return "amount"
	case "invalid_side":
		return "side"
	case "invalid_rail":
		return "rail"
	}
	return ""
}

// sentTransfer is the confirmation of a transfer just sent from this
// connection's page (?sent=key): the customer's own transfer on this
// connection, or nothing.
func (h *Handler) sentTransfer(ctx context.Context, u store.User, accountGUID, key string) *views.TransferSent {
	if key == "" || !validGUID(key) || h.transfers == nil {
		return nil
	}
	t, err := h.transfers.Transfer(ctx, u, key)
	if err != nil || t.AccountGUID != accountGUID || t.State == store.TransferQuoted {
		return nil
	}
	return &views.TransferSent{Side: t.Side, Rail: t.Rail, Amount: t.Amount, Failed: t.State == store.TransferFailed}
}
