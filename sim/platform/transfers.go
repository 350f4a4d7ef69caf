package simplatform

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Transfer states (the platform's seven), rails and failure codes (only
// ever codes of the platform's own list).
const (
	transferStoring    = "storing"
	transferPending    = "pending"
	transferHolding    = "holding"
	transferReviewing  = "reviewing"
	transferCompleted  = "completed"
	transferFailed     = "failed"
	transferCancelling = "cancelling"

	railACH  = "ach"
	railWire = "wire"

	participantCustomer = "customer"
	participantBank     = "bank"

	transferFailRefreshRequired    = "refresh_required"
	transferFailInvalidDestination = "invalid_destination"
	transferFailPaymentRailInvalid = "payment_rail_invalid"
)

// transferFailureCodes is the platform's list of transfer failure codes.
var transferFailureCodes = []string{
	"non_sufficient_funds", "refresh_required", "party_name_invalid", "payment_rail_invalid",
	"compliance_rejection", "cancelled", "reversed", "limit_exceeded", "network_fee_too_low",
	"amount_too_low", "internal_error", "invalid_address", "invalid_destination", "customer_action_required",
	"external_vendor_error", "payment_request_expired", "return_risk_exceeded", "daily_limit_exceeded",
	"weekly_limit_exceeded", "monthly_limit_exceeded", "customer_contact_info_missing", "recipient_cancelled",
}

var transferStates = []string{transferStoring, transferPending, transferHolding, transferReviewing,
	transferCompleted, transferFailed, transferCancelling}

// wireRoutingDiffers lists the institutions whose wires use another ABA
// routing number than the one Plaid captured (seed 003): the captured number
// is the ACH one, so a wire from such a bank fails while ACH works.
var wireRoutingDiffers = map[string]bool{
	"ins_109509": true, // First Gingham Credit Union
}

// transferJSON is the contract's transfer object. The portal's platform
// client declares the same fields; the simulator keeps its own declaration
// (it imports nothing of the portal), so a field one side gets wrong shows
// in the contract tests instead of being shared silently.
type transferJSON struct {
	GUID                    string  `json:"guid"`
	TransferType            string  `json:"transfer_type"`
	CustomerGUID            string  `json:"customer_guid"`
	QuoteGUID               string  `json:"quote_guid"`
	ExternalBankAccountGUID string  `json:"external_bank_account_guid"`
	Asset                   string  `json:"asset"`
	Side                    string  `json:"side"`
	State                   string  `json:"state"`
	FailureCode             *string `json:"failure_code"`
	Amount                  int64   `json:"amount"`
	PaymentRail             string  `json:"payment_rail"`
	CreatedAt               apiTime `json:"created_at"`
	UpdatedAt               apiTime `json:"updated_at"`

	SourceParticipants      []participantJSON `json:"source_participants"`
	DestinationParticipants []participantJSON `json:"destination_participants"`
}

// participantJSON is one side of a funding transfer, amount in base units.
type participantJSON struct {
	Type   string `json:"type"`
	Amount int64  `json:"amount"`
	GUID   string `json:"guid"`
}

type transfer struct {
	transferJSON
	bankGUID string
	fee      int64
	nextAt   sql.NullInt64
}

const transferColumns = `guid, transfer_type, bank_guid, customer_guid, quote_guid, external_bank_account_guid, asset, side,
	state, failure_code, amount, fee, payment_rail, created_at, updated_at, next_at`

func scanTransfer(row interface{ Scan(...any) error }) (transfer, error) {
	var t transfer
	var failure sql.NullString
	var created, updated int64
	err := row.Scan(&t.GUID, &t.TransferType, &t.bankGUID, &t.CustomerGUID, &t.QuoteGUID, &t.ExternalBankAccountGUID, &t.Asset, &t.Side,
		&t.State, &failure, &t.Amount, &t.fee, &t.PaymentRail, &created, &updated, &t.nextAt)
	t.FailureCode = nullString(failure)
	t.CreatedAt, t.UpdatedAt = apiTime(fromMillis(created)), apiTime(fromMillis(updated))
	// A customer's funding transfer moves that customer's money on both sides.
	p := []participantJSON{{Type: participantCustomer, Amount: t.Amount, GUID: t.CustomerGUID}}
	t.SourceParticipants, t.DestinationParticipants = p, p
	return t, err
}

// transfer loads a transfer the subject may see; 404 otherwise.
func (s *Server) transfer(ctx context.Context, sub subject, guid string) (transfer, error) {
	return visible(ctx, s, sub, guid, "Transfer", `SELECT `+transferColumns+` FROM transfers WHERE guid = ? AND bank_guid = ?`,
		scanTransfer, func(t transfer) string { return t.CustomerGUID })
}

type createTransferRequest struct {
	QuoteGUID               string            `json:"quote_guid"`
	TransferType            string            `json:"transfer_type"`
	ExternalBankAccountGUID string            `json:"external_bank_account_guid"`
	PaymentRail             string            `json:"payment_rail"`
	SourceParticipants      []participantJSON `json:"source_participants"`
	DestinationParticipants []participantJSON `json:"destination_participants"`
}

func (req createTransferRequest) validate() error {
	switch {
	case req.QuoteGUID == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "quote_guid is required")
	case req.TransferType == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "transfer_type is required")
	case req.TransferType != productFunding:
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "transfer_type %s is not supported", req.TransferType)
	case req.ExternalBankAccountGUID == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "external_bank_account_guid is required for a funding transfer")
	case req.PaymentRail == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "payment_rail is required for a funding transfer")
	case req.PaymentRail != railACH && req.PaymentRail != railWire:
		return errorf(http.StatusBadRequest, codeInvalidValue, "payment_rail must be ach or wire")
	case len(req.SourceParticipants) == 0:
		return errorf(http.StatusBadRequest, codeMissingParameter, "source_participants is required for a funding transfer")
	case len(req.DestinationParticipants) == 0:
		return errorf(http.StatusBadRequest, codeMissingParameter, "destination_participants is required for a funding transfer")
	}
	for _, p := range append(slices.Clip(req.SourceParticipants), req.DestinationParticipants...) {
		switch {
		case p.Type != participantCustomer && p.Type != participantBank:
			return errorf(http.StatusBadRequest, codeInvalidValue, "participant type must be customer or bank")
		case !validGUID(p.GUID):
			return errorf(http.StatusBadRequest, codeInvalidValue, "participant guid is not a guid")
		case p.Amount <= 0:
			return errorf(http.StatusBadRequest, codeInvalidValue, "participant amount must be positive")
		}
	}
	return nil
}

// checkParticipants refuses participants that do not move the quote's
// customer's money: for a customer's deposit or withdrawal both lists hold
// that one customer with the quote's amount.
func checkParticipants(req createTransferRequest, q quoteJSON) error {
	for _, list := range [][]participantJSON{req.SourceParticipants, req.DestinationParticipants} {
		var sum int64
		for _, p := range list {
			if p.Type != participantCustomer || p.GUID != q.CustomerGUID {
				return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Participants of a funding transfer must be the quote's customer")
			}
			sum += p.Amount
		}
		if sum != q.ReceiveAmount {
			return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Participant amounts must add up to the quote's amount")
		}
	}
	return nil
}

// handleCreateTransfer executes a funding quote against one of the quote's
// customer's accounts. The transfer starts in storing; whether the account can
// transact is decided asynchronously, as the platform does.
// Shaped like the other handlers (read, check, s.fail on the first refusal, write); the shared steps are helpers already.
func (s *Server) handleCreateTransfer(w http.ResponseWriter, r *http.Request, sub subject) {
	req, ok := readRequest[createTransferRequest](s, w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	q, err := s.quote(ctx, sub, req.QuoteGUID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.account(ctx, sub, req.ExternalBankAccountGUID)
	if err == nil && (a.CustomerGUID == nil || *a.CustomerGUID != q.CustomerGUID) {
		// Another customer's (or the bank's own) account: as if it did not exist.
		err = errorf(http.StatusNotFound, codeNotFound, "External bank account not found")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkParticipants(req, q); err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	if q.ExpiresAt != nil && now.After(time.Time(*q.ExpiresAt)) {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidValue, "Quote has expired")
		return
	}
	guid := newGUID()
	_, err = s.db.ExecContext(ctx, `INSERT INTO transfers
		(guid, bank_guid, customer_guid, quote_guid, external_bank_account_guid, transfer_type, asset, side, state,
		 amount, fee, payment_rail, created_at, updated_at, next_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		guid, sub.BankGUID, q.CustomerGUID, q.GUID, a.GUID, req.TransferType, q.Asset, q.Side, transferStoring,
		q.ReceiveAmount, q.Fee, req.PaymentRail, millis(now), millis(now), millis(now.Add(s.cfg.StoringDelay)))
	if isUniqueViolation(err) {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidValue, "Quote has already been executed")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.scheduleTransfer(guid, s.cfg.StoringDelay)
	t, err := s.transfer(ctx, sub, guid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t.transferJSON)
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func (s *Server) scheduleTransfer(guid string, d time.Duration) {
	s.after(d, func(ctx context.Context) {
		if err := s.advanceTransfer(ctx, guid); err != nil {
			s.log.Error("transfer transition failed", "transfer", guid, "err", err)
		}
	})
}

// advanceTransfer moves a transfer whose time has come one step on:
// storing → pending (or failed, when the account cannot transact on that
// rail), pending → completed. A compare-and-set on the state makes the
// timer and a catching-up read safe to race.
func (s *Server) advanceTransfer(ctx context.Context, guid string) error {
	t, err := scanTransfer(s.db.QueryRowContext(ctx, `SELECT `+transferColumns+` FROM transfers WHERE guid = ?`, guid))
	if err != nil {
		return err
	}
	now := time.Now()
	if !t.nextAt.Valid || now.Before(fromMillis(t.nextAt.Int64)) {
		return nil
	}
	var to string
	var failure, next any
	switch t.State {
	case transferStoring:
		code, err := s.transferFailure(ctx, t)
		if err != nil {
			return err
		}
		if code != "" {
			to, failure = transferFailed, code
		} else {
			to, next = transferPending, millis(now.Add(s.cfg.StoringDelay))
		}
	case transferPending:
		to = transferCompleted
	default:
		return nil
	}
	res, err := s.db.ExecContext(ctx, `UPDATE transfers SET state = ?, failure_code = ?, next_at = ?, updated_at = ?
		WHERE guid = ? AND state = ?`, to, failure, next, millis(now), guid, t.State)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 && to == transferPending {
		s.scheduleTransfer(guid, s.cfg.StoringDelay)
	}
	return nil
}

// transferFailure says why the account cannot take this transfer, or "".
// "No transactions can be performed with an external bank account in the
// refresh_required state."
func (s *Server) transferFailure(ctx context.Context, t transfer) (string, error) {
	var state, institution string
	err := s.db.QueryRowContext(ctx, `SELECT state, plaid_institution_id FROM external_bank_accounts WHERE guid = ?`,
		t.ExternalBankAccountGUID).Scan(&state, &institution)
	if err != nil {
		return "", err
	}
	switch {
	case state == stateRefreshRequired:
		return transferFailRefreshRequired, nil
	case state != stateCompleted:
		return transferFailInvalidDestination, nil
	case t.PaymentRail == railWire && wireRoutingDiffers[institution]:
		return transferFailPaymentRailInvalid, nil
	}
	return "", nil
}

// catchUpTransfers moves on the overdue transfers a read is about to see
// (timers lost to a restart, or not yet fired).
func (s *Server) catchUpTransfers(ctx context.Context, sub subject) error {
	q := `SELECT guid FROM transfers WHERE state IN ('storing', 'pending') AND next_at <= ? AND bank_guid = ?`
	args := []any{millis(time.Now()), sub.BankGUID}
	if sub.isCustomer() {
		q += ` AND customer_guid = ?`
		args = append(args, sub.CustomerGUID)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	var due []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return err
		}
		due = append(due, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range due {
		if err := s.advanceTransfer(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) handleGetTransfer(w http.ResponseWriter, r *http.Request, sub subject) {
	ctx := r.Context()
	if err := s.catchUpTransfers(ctx, sub); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.transfer(ctx, sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t.transferJSON)
}

func (s *Server) handleListTransfers(w http.ResponseWriter, r *http.Request, sub subject) {
	pg, err := parsePaging(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	if err := s.catchUpTransfers(ctx, sub); err != nil {
		s.fail(w, r, err)
		return
	}
	var wh where
	wh.add("bank_guid = ?", sub.BankGUID)
	if sub.isCustomer() {
		wh.add("customer_guid = ?", sub.CustomerGUID)
	}
	for _, f := range []struct {
		param, column string
		valid         func(string) bool
	}{
		{"guid", "guid", validGUID}, {"bank_guid", "bank_guid", validGUID}, {"customer_guid", "customer_guid", validGUID},
		{"account_guid", "external_bank_account_guid", validGUID}, {"quote_guid", "quote_guid", validGUID},
		{"state", "state", func(v string) bool { return slices.Contains(transferStates, v) }},
		{"transfer_type", "transfer_type", anyValue}, {"side", "side", anyValue},
	} {
		if err := wh.in(r, f.param, f.column, f.valid); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	listPage(s, w, r, "transfers", transferColumns, wh, pg, scanTransfer, func(t transfer) transferJSON { return t.transferJSON })
}
