package simplatform

import (
	"context"
	"net/http"
	"time"
)

// Funding quotes: what a deposit or withdrawal will move, and what it costs.
const (
	productFunding = "funding"
	sideDeposit    = "deposit"
	sideWithdrawal = "withdrawal"

	// maxAmount bounds an amount in cents (a billion dollars), far below int64's limit.
	maxAmount = 100_000_000_000
)

// quoteJSON is the contract's quote object.
type quoteJSON struct {
	GUID          string  `json:"guid"`
	ProductType   string  `json:"product_type"`
	CustomerGUID  string  `json:"customer_guid"`
	Side          string  `json:"side"`
	Asset         string  `json:"asset"`
	ReceiveAmount int64   `json:"receive_amount"`
	DeliverAmount int64   `json:"deliver_amount"`
	Fee           int64   `json:"fee"`
	IssuedAt      apiTime `json:"issued_at"`
	// ExpiresAt is null for funding quotes, as the platform may answer them.
	ExpiresAt *apiTime `json:"expires_at"`
}

const quoteColumns = `guid, product_type, customer_guid, side, asset, receive_amount, deliver_amount, fee, issued_at, expires_at`

func scanQuote(row interface{ Scan(...any) error }) (quoteJSON, error) {
	var q quoteJSON
	var issued, expires int64
	err := row.Scan(&q.GUID, &q.ProductType, &q.CustomerGUID, &q.Side, &q.Asset, &q.ReceiveAmount, &q.DeliverAmount, &q.Fee, &issued, &expires)
	q.IssuedAt = apiTime(fromMillis(issued))
	if expires != 0 {
		e := apiTime(fromMillis(expires))
		q.ExpiresAt = &e
	}
	return q, err
}

// quote loads a quote the subject may see; 404 otherwise.
func (s *Server) quote(ctx context.Context, sub subject, guid string) (quoteJSON, error) {
	return visible(ctx, s, sub, guid, "Quote", `SELECT `+quoteColumns+` FROM quotes WHERE guid = ? AND bank_guid = ?`,
		scanQuote, func(q quoteJSON) string { return q.CustomerGUID })
}

type createQuoteRequest struct {
	ProductType   string  `json:"product_type"`
	CustomerGUID  *string `json:"customer_guid"`
	Asset         string  `json:"asset"`
	Side          string  `json:"side"`
	ReceiveAmount *int64  `json:"receive_amount"`
	DeliverAmount *int64  `json:"deliver_amount"`
}

func (req createQuoteRequest) validate() error {
	switch {
	case req.ProductType == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "product_type is required")
	case req.ProductType != productFunding:
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "product_type %s is not supported", req.ProductType)
	case req.Asset == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "asset is required")
	case req.Asset != "USD":
		return errorf(http.StatusUnprocessableEntity, codeInvalidValue, "Funding is only available in USD")
	case req.Side == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "side is required")
	case req.Side != sideDeposit && req.Side != sideWithdrawal:
		return errorf(http.StatusBadRequest, codeInvalidValue, "side must be deposit or withdrawal")
	case (req.ReceiveAmount == nil) == (req.DeliverAmount == nil):
		return errorf(http.StatusBadRequest, codeInvalidParameter, "Give exactly one of receive_amount and deliver_amount")
	case req.CustomerGUID != nil && !validGUID(*req.CustomerGUID):
		return errorf(http.StatusBadRequest, codeInvalidValue, "customer_guid is not a guid")
	}
	amount := req.ReceiveAmount
	if amount == nil {
		amount = req.DeliverAmount
	}
	if *amount <= 0 || *amount > maxAmount {
		return errorf(http.StatusBadRequest, codeInvalidValue, "The amount must be a positive number of cents, at most %d", int64(maxAmount))
	}
	return nil
}

// handleCreateQuote prices a funding deposit or withdrawal. Funding carries
// no fee in the simulator, so what is delivered is what is received.
// Shaped like the other handlers (read, check, s.fail on the first refusal, write); the shared steps are helpers already.
func (s *Server) handleCreateQuote(w http.ResponseWriter, r *http.Request, sub subject) {
	req, ok := readRequest[createQuoteRequest](s, w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	owner, err := s.owner(ctx, sub, req.CustomerGUID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if owner == nil {
		writeError(w, http.StatusBadRequest, codeMissingParameter, "customer_guid is required for a funding quote")
		return
	}
	amount := req.ReceiveAmount
	if amount == nil {
		amount = req.DeliverAmount
	}
	now := time.Now()
	guid := newGUID()
	_, err = s.db.ExecContext(ctx, `INSERT INTO quotes
		(guid, bank_guid, customer_guid, product_type, side, asset, receive_amount, deliver_amount, fee, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		guid, sub.BankGUID, *owner, req.ProductType, req.Side, req.Asset, *amount, *amount, millis(now), 0) // 0: no expiry
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := s.quote(ctx, sub, guid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, q)
}

func (s *Server) handleGetQuote(w http.ResponseWriter, r *http.Request, sub subject) {
	q, err := s.quote(r.Context(), sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}

// Scopes of money movement (allScopes lists them for bank tokens).
const (
	scopeQuotesRead       = "quotes:read"
	scopeQuotesExecute    = "quotes:execute"
	scopeTransfersRead    = "transfers:read"
	scopeTransfersExecute = "transfers:execute"
)
