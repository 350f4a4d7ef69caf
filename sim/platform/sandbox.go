package simplatform

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault is an injected failure for requests whose method and path match.
type Fault struct {
	Method     string  `json:"method"`      // empty matches any
	PathPrefix string  `json:"path_prefix"` // e.g. /api/external_bank_accounts
	Status     int     `json:"status"`      // answered instead of the real handler; 0 passes through after the latency
	LatencyMS  int     `json:"latency_ms"`
	Timeout    bool    `json:"timeout"` // hold the request until its ctx ends
	Rate       float64 `json:"rate"`    // probability per request; 0 means 1
	Count      int     `json:"count"`   // times it fires; 0 is unlimited
	ForMS      int     `json:"for_ms"`  // stops firing this long after it was set; 0 is forever
}

type faultSet struct {
	mu     sync.Mutex
	faults []Fault
	until  []time.Time // per fault: when it stops firing (zero: never)
}

func (f *faultSet) set(faults []Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = faults
	f.until = make([]time.Time, len(faults))
	now := time.Now()
	for i, ft := range faults {
		if ft.ForMS > 0 {
			f.until[i] = now.Add(time.Duration(ft.ForMS) * time.Millisecond)
		}
	}
}

// pick returns the first matching fault that fires, using up one of its count.
func (f *faultSet) pick(r *http.Request) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.faults {
		ft := &f.faults[i]
		if ft.Method != "" && !strings.EqualFold(ft.Method, r.Method) || !strings.HasPrefix(r.URL.Path, ft.PathPrefix) {
			continue
		}
		if ft.Count < 0 || ft.Rate > 0 && rand.Float64() >= ft.Rate {
			continue
		}
		if !f.until[i].IsZero() && time.Now().After(f.until[i]) {
			continue // expired: the platform has recovered by itself
		}
		if ft.Count > 0 {
			ft.Count--
			if ft.Count == 0 {
				ft.Count = -1 // used up
			}
		}
		return *ft, true
	}
	return Fault{}, false
}

func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/sandbox/") {
			next.ServeHTTP(w, r)
			return
		}
		ft, ok := s.faults.pick(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		// Consume the body first: only then does net/http watch the
		// connection and end ctx when the client gives up.
		if ft.Timeout || ft.Status != 0 {
			_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20))
		}
		if ft.Timeout {
			select {
			case <-ctx.Done():
			case <-s.ctx.Done():
			}
			return
		}
		if ft.LatencyMS > 0 {
			t := time.NewTimer(time.Duration(ft.LatencyMS) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ft.Status == 0 {
			next.ServeHTTP(w, r)
			return
		}
		code := codeInvalidValue
		switch {
		case ft.Status == http.StatusRequestTimeout || ft.Status == http.StatusGatewayTimeout:
			code = codeRequestTimeout
		case ft.Status == http.StatusTooManyRequests:
			code = codeRateLimited
		case ft.Status >= 500:
			code = codeInternalError
		}
		writeError(w, ft.Status, code, http.StatusText(ft.Status)+" (injected fault)")
	})
}

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Faults []Fault `json:"faults"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, f := range req.Faults {
		if f.Count < 0 || f.ForMS < 0 || f.Rate < 0 || f.Rate > 1 || (f.Status != 0 && (f.Status < 400 || f.Status > 599)) {
			writeError(w, http.StatusBadRequest, codeInvalidValue, "fault needs count >= 0, for_ms >= 0, rate in [0,1] and an error status")
			return
		}
	}
	s.faults.set(req.Faults)
	writeJSON(w, http.StatusOK, req)
}

func (s *Server) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	s.faults.set(nil)
	w.WriteHeader(http.StatusNoContent)
}

// handlePinState puts an account in a state and keeps it there: no
// automatic transition follows until an API PATCH or DELETE.
func (s *Server) handlePinState(w http.ResponseWriter, r *http.Request) {
	var req struct {
		State       string  `json:"state"`
		FailureCode *string `json:"failure_code"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !validState(req.State) {
		writeError(w, http.StatusBadRequest, codeInvalidValue, "state must be one of "+strings.Join(accountStates, ", "))
		return
	}
	if req.FailureCode != nil && !slices.Contains(failureCodes, *req.FailureCode) {
		writeError(w, http.StatusBadRequest, codeInvalidValue, "unknown failure_code")
		return
	}
	res, err := s.db.ExecContext(r.Context(), `UPDATE external_bank_accounts SET state = ?, failure_code = ?, pinned = 1, updated_at = ?
		WHERE guid = ?`, req.State, req.FailureCode, millis(time.Now()), r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.lists.changed()
	if n, _ := res.RowsAffected(); n == 0 {
		writeError(w, http.StatusNotFound, codeNotFound, "External bank account not found")
		return
	}
	a, err := s.account(r.Context(), subject{BankGUID: s.bankGUID}, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.json(false))
}

// SeedRequest bulk-creates accounts without Plaid (benchmarks, demos).
type SeedRequest struct {
	CustomerGUID  *string `json:"customer_guid"` // nil: bank-level accounts
	Count         int     `json:"count"`
	State         string  `json:"state"`          // default completed
	InstitutionID string  `json:"institution_id"` // default ins_109508
}

func (s *Server) handleSeedAccounts(w http.ResponseWriter, r *http.Request) {
	var req SeedRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.State == "" {
		req.State = stateCompleted
	}
	if req.InstitutionID == "" {
		req.InstitutionID = "ins_109508"
	}
	switch {
	case req.Count < 1 || req.Count > 200_000:
		writeError(w, http.StatusBadRequest, codeInvalidValue, "count must be 1 to 200000")
		return
	case !validState(req.State):
		writeError(w, http.StatusBadRequest, codeInvalidValue, "unknown state")
		return
	}
	ctx := r.Context()
	if req.CustomerGUID != nil {
		if _, err := s.customer(ctx, subject{BankGUID: s.bankGUID}, *req.CustomerGUID); err != nil {
			s.fail(w, r, noCustomer(err))
			return
		}
	}
	guids, err := s.seedAccounts(ctx, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string][]string{"guids": guids})
}

func (s *Server) seedAccounts(ctx context.Context, req SeedRequest) ([]string, error) {
	guids := make([]string, req.Count)
	var failure *string
	if req.State == stateFailed {
		code := "create_failed"
		failure = &code
	}
	err := inTx(ctx, s.db, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO external_bank_accounts
			(guid, name, asset, account_kind, environment, bank_guid, customer_guid, created_at, updated_at,
			 plaid_institution_id, plaid_account_mask, plaid_account_name, state, failure_code,
			 balance_available, balance_current, pinned)
			VALUES (?, ?, 'USD', 'plaid', 'sandbox', ?, ?, ?, ?, ?, ?, 'Plaid Checking', ?, ?, ?, ?, 1)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := millis(time.Now())
		for i := range guids {
			guids[i] = newGUID()
			mask := fmt.Sprintf("%04d", i%10000)
			balance := int64(10_000 + i%1000*100)
			if _, err := stmt.ExecContext(ctx, guids[i], fmt.Sprintf("Checking %d", i+1), s.bankGUID, req.CustomerGUID,
				now, now, req.InstitutionID, mask, req.State, failure, balance, balance); err != nil {
				return err
			}
		}
		return nil
	})
	s.lists.changed()
	return guids, err
}

// handlePinTransferState puts a transfer in one of the seven states (with a
// failure code of the platform's list when failed) and stops its automatic
// transitions, so tests can hold one in holding or reviewing.
func (s *Server) handlePinTransferState(w http.ResponseWriter, r *http.Request) {
	var req struct {
		State       string  `json:"state"`
		FailureCode *string `json:"failure_code"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !slices.Contains(transferStates, req.State) {
		writeError(w, http.StatusBadRequest, codeInvalidValue, "state must be one of "+strings.Join(transferStates, ", "))
		return
	}
	if req.FailureCode != nil && !slices.Contains(transferFailureCodes, *req.FailureCode) {
		writeError(w, http.StatusBadRequest, codeInvalidValue, "unknown failure_code")
		return
	}
	res, err := s.db.ExecContext(r.Context(), `UPDATE transfers SET state = ?, failure_code = ?, next_at = NULL, updated_at = ?
		WHERE guid = ?`, req.State, req.FailureCode, millis(time.Now()), r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		writeError(w, http.StatusNotFound, codeNotFound, "Transfer not found")
		return
	}
	t, err := s.transfer(r.Context(), subject{BankGUID: s.bankGUID}, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t.transferJSON)
}
