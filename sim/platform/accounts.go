package simplatform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Account states and failure codes.
const (
	stateStoring         = "storing"
	stateCompleted       = "completed"
	stateUnverified      = "unverified"
	stateFailed          = "failed"
	stateRefreshRequired = "refresh_required"
	stateDeleting        = "deleting"
	stateDeleted         = "deleted"

	failureDuplicate        = "duplicate"
	failureMultipleAccounts = "plaid_multiple_accounts"
)

var accountStates = []string{stateStoring, stateCompleted, stateUnverified, stateFailed, stateRefreshRequired, stateDeleting, stateDeleted}

var failureCodes = []string{
	"invalid_routing_number", "invalid_account_number", "invalid_account_type", failureDuplicate,
	"plaid_processor_token", failureMultipleAccounts, "create_failed", "unverified_counterparty",
}

func validState(s string) bool { return slices.Contains(accountStates, s) }

type balancesJSON struct {
	Available *int64 `json:"available"`
	Current   *int64 `json:"current"`
}

// accountJSON is the contract's external bank account, field for field.
// Alike in shape to customerJSON (both are contract objects with pointer
// fields for nulls), but no field is shared.
type accountJSON struct {
	GUID               string        `json:"guid"`
	Name               string        `json:"name"`
	Asset              string        `json:"asset"`
	AccountKind        string        `json:"account_kind"`
	Environment        string        `json:"environment"`
	BankGUID           string        `json:"bank_guid"`
	CustomerGUID       *string       `json:"customer_guid"`
	CounterpartyGUID   *string       `json:"counterparty_guid"`
	CreatedAt          apiTime       `json:"created_at"`
	UpdatedAt          apiTime       `json:"updated_at"`
	PlaidInstitutionID string        `json:"plaid_institution_id"`
	PlaidAccountMask   string        `json:"plaid_account_mask"`
	PlaidAccountName   *string       `json:"plaid_account_name"`
	State              string        `json:"state"`
	FailureCode        *string       `json:"failure_code"`
	BalanceUpdatedAt   *apiTime      `json:"balance_updated_at"`
	Balances           *balancesJSON `json:"balances,omitempty"` // only with include_balances=true
}

// account is a stored account: the API object plus what only the simulator sees.
type account struct {
	accountJSON
	balances       balancesJSON
	accessToken    string // never leaves the simulator
	itemID         string
	plaidAccountID string
}

const accountColumns = `guid, name, asset, account_kind, environment, bank_guid, customer_guid, counterparty_guid,
	created_at, updated_at, plaid_institution_id, plaid_account_mask, plaid_account_name, state, failure_code,
	balance_updated_at, balance_available, balance_current, plaid_access_token, plaid_item_id, plaid_account_id`

func scanAccount(row interface{ Scan(...any) error }) (account, error) {
	var a account
	var customer, counterparty, plaidName, failure sql.NullString
	var created, updated int64
	var balUpdated, available, current sql.NullInt64
	err := row.Scan(&a.GUID, &a.Name, &a.Asset, &a.AccountKind, &a.Environment, &a.BankGUID, &customer, &counterparty,
		&created, &updated, &a.PlaidInstitutionID, &a.PlaidAccountMask, &plaidName, &a.State, &failure,
		&balUpdated, &available, &current, &a.accessToken, &a.itemID, &a.plaidAccountID)
	if err != nil {
		return a, err
	}
	a.CustomerGUID, a.CounterpartyGUID = nullString(customer), nullString(counterparty)
	a.PlaidAccountName, a.FailureCode = nullString(plaidName), nullString(failure)
	a.CreatedAt, a.UpdatedAt = apiTime(fromMillis(created)), apiTime(fromMillis(updated))
	a.BalanceUpdatedAt = timePtr(balUpdated)
	a.balances = balancesJSON{Available: nullInt(available), Current: nullInt(current)}
	return a, nil
}

func (a account) json(includeBalances bool) accountJSON {
	out := a.accountJSON
	if includeBalances {
		b := a.balances
		out.Balances = &b
	}
	return out
}

// account loads an account the subject may see; 404 otherwise.
func (s *Server) account(ctx context.Context, sub subject, guid string) (account, error) {
	return visible(ctx, s, sub, guid, "External bank account",
		`SELECT `+accountColumns+` FROM external_bank_accounts WHERE guid = ? AND bank_guid = ?`,
		scanAccount, func(a account) string { return ownerOf(a.CustomerGUID) })
}

// setState moves an account; from lists the states it may leave (any when empty).
// It reports whether the row changed. Automatic transitions pass auto=true and
// skip pinned accounts.
func (s *Server) setState(ctx context.Context, guid, to string, failureCode any, auto bool, from ...string) (bool, error) {
	q := `UPDATE external_bank_accounts SET state = ?, failure_code = ?, updated_at = ?`
	args := []any{to, failureCode, millis(time.Now())}
	if !auto {
		q += `, pinned = 0`
	}
	q += ` WHERE guid = ?`
	args = append(args, guid)
	if auto {
		q += ` AND pinned = 0`
	}
	if len(from) > 0 {
		q += ` AND state IN (?` + repeatString(",?", len(from)-1) + `)`
		for _, f := range from {
			args = append(args, f)
		}
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if n > 0 {
		s.lists.changed()
	}
	return n > 0, err
}

func repeatString(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func (s *Server) handleListAccounts(w http.ResponseWriter, r *http.Request, sub subject) {
	pg, err := parsePaging(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var wh where
	wh.add("bank_guid = ?", sub.BankGUID)
	if sub.isCustomer() {
		wh.add("customer_guid = ?", sub.CustomerGUID)
	}
	for _, f := range []struct {
		param string
		valid func(string) bool
	}{
		{"guid", validGUID}, {"bank_guid", validGUID}, {"customer_guid", validGUID},
		{"asset", anyValue}, {"state", validState},
	} {
		if err := wh.in(r, f.param, f.param, f.valid); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	ctx := r.Context()
	key := fmt.Sprint(wh.sql(), wh.args)
	version := s.lists.snapshot()
	total, ok := s.lists.total(key)
	if !ok {
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM external_bank_accounts WHERE `+wh.sql(), wh.args...).Scan(&total)
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	objects := []accountJSON{}
	var lastSeq int64
	if offset := pg.page * pg.perPage; offset < total {
		query := `SELECT seq, ` + accountColumns + ` FROM external_bank_accounts WHERE ` + wh.sql()
		args := slices.Clone(wh.args)
		if seq, ok := s.lists.bound(key, pg.perPage, pg.page-1); ok && pg.page > 0 {
			query += ` AND seq < ? ORDER BY seq DESC LIMIT ?`
			args = append(args, seq, pg.perPage)
		} else {
			query += ` ORDER BY seq DESC LIMIT ? OFFSET ?`
			args = append(args, pg.perPage, offset)
		}
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAccount(seqScanner{rows, &lastSeq})
			if err != nil {
				s.fail(w, r, err)
				return
			}
			objects = append(objects, a.json(false))
		}
		if err := rows.Err(); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.lists.remember(version, key, total, pg.perPage, pg.page, lastSeq, len(objects) == pg.perPage)
	writeJSON(w, http.StatusOK, listJSON[accountJSON]{Total: total, Page: pg.page, PerPage: pg.perPage, Objects: objects})
}

type createAccountRequest struct {
	Name                string  `json:"name"`
	AccountKind         string  `json:"account_kind"`
	CustomerGUID        *string `json:"customer_guid"`
	Asset               string  `json:"asset"`
	PlaidPublicToken    string  `json:"plaid_public_token"`
	PlaidAccountID      string  `json:"plaid_account_id"`
	PlaidProcessorToken string  `json:"plaid_processor_token"`
	CounterpartyGUID    *string `json:"counterparty_guid"`
}

func (req createAccountRequest) validate() error {
	switch {
	case req.Name == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "name is required")
	case len(req.Name) > 128:
		return errorf(http.StatusBadRequest, codeInvalidValue, "name is longer than 128 characters")
	case req.AccountKind == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "account_kind is required")
	case req.AccountKind == "plaid_processor_token" || req.AccountKind == "raw_routing_details":
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "account_kind %s is not supported", req.AccountKind)
	case req.AccountKind != "plaid":
		return errorf(http.StatusBadRequest, codeInvalidValue, "account_kind must be plaid, plaid_processor_token or raw_routing_details")
	}
	for _, f := range []struct{ name, value string }{
		{"asset", req.Asset}, {"plaid_public_token", req.PlaidPublicToken}, {"plaid_account_id", req.PlaidAccountID},
	} {
		if f.value == "" {
			return errorf(http.StatusBadRequest, codeMissingParameter, "%s is required", f.name)
		}
		if len(f.value) > 128 {
			return errorf(http.StatusBadRequest, codeInvalidValue, "%s is longer than 128 characters", f.name)
		}
	}
	if len(req.Asset) > 16 {
		return errorf(http.StatusBadRequest, codeInvalidValue, "asset is longer than 16 characters")
	}
	if req.CustomerGUID != nil && !validGUID(*req.CustomerGUID) {
		return errorf(http.StatusBadRequest, codeInvalidValue, "customer_guid is not a guid")
	}
	return nil
}

// owner resolves the customer a request body names: a customer token acts
// for its own customer only; nil is the bank itself.
func (s *Server) owner(ctx context.Context, sub subject, customerGUID *string) (*string, error) {
	if customerGUID == nil || *customerGUID == "" {
		if sub.isCustomer() {
			guid := sub.CustomerGUID
			return &guid, nil
		}
		return nil, nil
	}
	if _, err := s.customer(ctx, sub, *customerGUID); err != nil {
		return nil, noCustomer(err)
	}
	return customerGUID, nil
}

func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request, sub subject) {
	req, ok := readRequest[createAccountRequest](s, w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	owner, err := s.owner(ctx, sub, req.CustomerGUID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	access, err := s.plaid.ExchangePublicToken(ctx, req.PlaidPublicToken)
	if err != nil {
		s.fail(w, r, plaidFailure(err, "exchange the public token"))
		return
	}
	item, shared, err := s.plaid.Accounts(ctx, access.AccessToken)
	if err != nil {
		s.fail(w, r, plaidFailure(err, "read the Item's accounts"))
		return
	}
	a := account{accessToken: access.AccessToken, itemID: access.ItemID, plaidAccountID: req.PlaidAccountID}
	a.GUID, a.Name, a.Asset, a.AccountKind, a.Environment = newGUID(), req.Name, req.Asset, req.AccountKind, "sandbox"
	a.BankGUID, a.CustomerGUID, a.CounterpartyGUID = sub.BankGUID, owner, req.CounterpartyGUID
	a.PlaidInstitutionID, a.State = item.InstitutionID, stateStoring
	for _, pa := range shared {
		if pa.AccountID == req.PlaidAccountID {
			name := pa.Name
			a.PlaidAccountMask, a.PlaidAccountName = pa.Mask, &name
		}
	}
	// One public token links one account: the Item must share exactly the
	// account the customer picked.
	if len(shared) != 1 || shared[0].AccountID != req.PlaidAccountID {
		failure := failureMultipleAccounts
		a.State, a.FailureCode = stateFailed, &failure
	}
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		if a.State == stateStoring {
			dup, err := isDuplicate(ctx, tx, a)
			if err != nil {
				return err
			}
			if dup {
				failure := failureDuplicate
				a.State, a.FailureCode = stateFailed, &failure
			}
		}
		return insertAccount(ctx, tx, a, time.Now())
	})
	s.lists.changed()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if a.State == stateStoring {
		s.scheduleAccountStored(a.GUID)
	} else {
		// The Item was made for this link only; nothing will use it.
		s.after(0, func(ctx context.Context) { s.removeItem(ctx, a.GUID, a.accessToken) })
	}
	stored, err := s.account(ctx, sub, a.GUID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, stored.json(false))
}

// isDuplicate: the same Plaid account (institution, mask, name) already
// linked, and not deleted or failed, for the same owner.
func isDuplicate(ctx context.Context, tx *sql.Tx, a account) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM external_bank_accounts
		WHERE bank_guid = ? AND customer_guid IS ? AND plaid_institution_id = ? AND plaid_account_mask = ?
		AND plaid_account_name IS ? AND state NOT IN ('deleted', 'failed')`,
		a.BankGUID, a.CustomerGUID, a.PlaidInstitutionID, a.PlaidAccountMask, a.PlaidAccountName).Scan(&n)
	return n > 0, err
}

func insertAccount(ctx context.Context, tx *sql.Tx, a account, now time.Time) error {
	ms := millis(now)
	_, err := tx.ExecContext(ctx, `INSERT INTO external_bank_accounts
		(guid, name, asset, account_kind, environment, bank_guid, customer_guid, counterparty_guid, created_at, updated_at,
		 plaid_institution_id, plaid_account_mask, plaid_account_name, state, failure_code,
		 plaid_access_token, plaid_item_id, plaid_account_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.GUID, a.Name, a.Asset, a.AccountKind, a.Environment, a.BankGUID, a.CustomerGUID, a.CounterpartyGUID, ms, ms,
		a.PlaidInstitutionID, a.PlaidAccountMask, a.PlaidAccountName, a.State, a.FailureCode,
		a.accessToken, a.itemID, a.plaidAccountID)
	return err
}

func (s *Server) scheduleAccountStored(guid string) {
	s.after(s.cfg.StoringDelay, func(ctx context.Context) {
		if _, err := s.setState(ctx, guid, stateCompleted, nil, true, stateStoring); err != nil {
			s.log.Error("account transition failed", "account", guid, "to", stateCompleted, "err", err)
		}
	})
}

// plaidFailure maps a Plaid error during a request to the platform's answer.
func plaidFailure(err error, doing string) error {
	var pe *PlaidError
	if errors.As(err, &pe) {
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Plaid could not %s: %s", doing, pe.Code)
	}
	return err
}

func (s *Server) handleGetAccount(w http.ResponseWriter, r *http.Request, sub subject) {
	include, err := boolParam(r, "include_balances")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	force, err := boolParam(r, "force_balance_refresh")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	a, err := s.account(ctx, sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if force {
		if err := s.refreshBalances(ctx, a); err != nil {
			s.fail(w, r, err)
			return
		}
		if a, err = s.account(ctx, sub, a.GUID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, a.json(include || force))
}

// refreshBalances pulls fresh data through Plaid (slow; bounded by the
// request's ctx) and stores the account's balances.
func (s *Server) refreshBalances(ctx context.Context, a account) error {
	switch a.State {
	case stateCompleted, stateUnverified, stateRefreshRequired:
	default:
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Balances cannot be refreshed in state %s", a.State)
	}
	now := millis(time.Now())
	if a.accessToken == "" {
		// A seeded account has no Item: its stored balances count as fresh.
		_, err := s.db.ExecContext(ctx, `UPDATE external_bank_accounts SET balance_updated_at = ?, updated_at = ? WHERE guid = ?`, now, now, a.GUID)
		return err
	}
	err := s.plaid.RefreshTransactions(ctx, a.accessToken)
	var balances map[string]Balance
	if err == nil {
		balances, err = s.plaid.Balances(ctx, a.accessToken)
	}
	var pe *PlaidError
	switch {
	case err == nil:
	case errors.As(err, &pe) && pe.Code == "ITEM_LOGIN_REQUIRED":
		if _, err := s.setState(context.WithoutCancel(ctx), a.GUID, stateRefreshRequired, nil, true, stateCompleted, stateUnverified); err != nil {
			return err
		}
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Bank account refresh required")
	case errors.As(err, &pe) && pe.Code == "PRODUCTS_NOT_SUPPORTED":
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Balance refresh is not supported for this account (PRODUCTS_NOT_SUPPORTED)")
	case errors.As(err, &pe) && (pe.Code == "ITEM_NOT_FOUND" || pe.Code == "NO_ACCOUNTS" || pe.Code == "ACCESS_NOT_GRANTED"):
		if _, err := s.setState(context.WithoutCancel(ctx), a.GUID, stateDeleted, nil, true); err != nil {
			return err
		}
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Bank account can no longer be used (%s)", pe.Code)
	case errors.As(err, &pe):
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Balance refresh failed (%s)", pe.Code)
	default:
		return err
	}
	b, ok := balances[a.plaidAccountID]
	if !ok {
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Plaid returned no balance for this account")
	}
	_, err = s.db.ExecContext(ctx, `UPDATE external_bank_accounts
		SET balance_available = ?, balance_current = ?, balance_updated_at = ?, updated_at = ? WHERE guid = ?`,
		b.Available, b.Current, now, now, a.GUID)
	return err
}

func (s *Server) handlePatchAccount(w http.ResponseWriter, r *http.Request, sub subject) {
	var req struct {
		State string  `json:"state"`
		Name  *string `json:"name"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case req.State == "" && req.Name == nil:
		writeError(w, http.StatusBadRequest, codeMissingParameter, "state or name is required")
		return
	case req.State != "" && req.State != stateCompleted && req.State != stateRefreshRequired:
		writeError(w, http.StatusBadRequest, codeInvalidValue, "state must be completed or refresh_required")
		return
	case req.Name != nil && (*req.Name == "" || len(*req.Name) > 128):
		writeError(w, http.StatusBadRequest, codeInvalidValue, "name must be 1 to 128 characters")
		return
	}
	ctx := r.Context()
	a, err := s.account(ctx, sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch a.State {
	case stateCompleted, stateUnverified, stateRefreshRequired:
	default:
		writeError(w, http.StatusUnprocessableEntity, codeInvalidValue, "External bank account cannot be updated in state "+a.State)
		return
	}
	if req.Name != nil {
		if _, err := s.db.ExecContext(ctx, `UPDATE external_bank_accounts SET name = ?, updated_at = ? WHERE guid = ?`,
			*req.Name, millis(time.Now()), a.GUID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	switch req.State {
	case stateCompleted:
		// Only this call clears refresh_required; an unverified account stays unverified.
		_, err = s.setState(ctx, a.GUID, stateCompleted, nil, false, stateRefreshRequired, stateCompleted)
	case stateRefreshRequired:
		if _, err = s.setState(ctx, a.GUID, stateRefreshRequired, nil, false); err == nil && a.accessToken != "" {
			// Expire the Item's login too, so Link in update mode has work to do.
			if rerr := s.plaid.ResetLogin(ctx, a.accessToken); rerr != nil {
				s.log.WarnContext(ctx, "plaid reset login failed", "account", a.GUID, "err", rerr)
			}
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if a, err = s.account(ctx, sub, a.GUID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.json(false))
}

func (s *Server) handleDeleteAccount(w http.ResponseWriter, r *http.Request, sub subject) {
	ctx := r.Context()
	a, err := s.account(ctx, sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if a.State != stateDeleting && a.State != stateDeleted {
		changed, err := s.setState(ctx, a.GUID, stateDeleting, a.FailureCode, false, a.State)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if changed {
			s.scheduleAccountRemoval(a.GUID)
		}
		if a, err = s.account(ctx, sub, a.GUID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, a.json(false))
}

// scheduleAccountRemoval removes the Item at Plaid, then marks the account deleted.
func (s *Server) scheduleAccountRemoval(guid string) {
	s.after(s.cfg.StoringDelay, func(ctx context.Context) {
		var token string
		err := s.db.QueryRowContext(ctx, `SELECT plaid_access_token FROM external_bank_accounts WHERE guid = ?`, guid).Scan(&token)
		if err != nil {
			s.log.Error("account removal failed", "account", guid, "err", err)
			return
		}
		s.removeItem(ctx, guid, token)
		if _, err := s.setState(ctx, guid, stateDeleted, nil, true, stateDeleting); err != nil {
			s.log.Error("account transition failed", "account", guid, "to", stateDeleted, "err", err)
		}
	})
}

func (s *Server) removeItem(ctx context.Context, guid, accessToken string) {
	if accessToken == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.plaid.RemoveItem(ctx, accessToken); err != nil {
		s.log.Warn("plaid item removal failed", "account", guid, "err", err)
	}
}
