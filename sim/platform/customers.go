package simplatform

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"
)

// Customer states.
const (
	customerStoring    = "storing"
	customerUnverified = "unverified"
)

type customerName struct {
	First  *string `json:"first"`
	Middle *string `json:"middle"`
	Last   *string `json:"last"`
	Full   *string `json:"full"`
}

// customerJSON is the contract's customer object; name and email_address
// only with include_pii=true. Alike in shape to accountJSON (both are contract
// objects with pointer fields for nulls), but no field is shared.
type customerJSON struct {
	GUID         string        `json:"guid"`
	BankGUID     string        `json:"bank_guid"`
	Type         string        `json:"type"`
	State        string        `json:"state"`
	CreatedAt    apiTime       `json:"created_at"`
	UpdatedAt    apiTime       `json:"updated_at"`
	Name         *customerName `json:"name,omitempty"`
	EmailAddress *string       `json:"email_address,omitempty"`
	pii          struct {
		name  customerName
		email *string
	}
}

func (c customerJSON) withPII(include bool) customerJSON {
	if include {
		n := c.pii.name
		c.Name, c.EmailAddress = &n, c.pii.email
		if c.EmailAddress == nil {
			empty := ""
			c.EmailAddress = &empty
		}
	}
	return c
}

const customerColumns = `guid, bank_guid, type, state, first_name, last_name, full_name, email_address, created_at, updated_at`

func scanCustomer(row interface{ Scan(...any) error }) (customerJSON, error) {
	var c customerJSON
	var first, last, full, email sql.NullString
	var created, updated int64
	if err := row.Scan(&c.GUID, &c.BankGUID, &c.Type, &c.State, &first, &last, &full, &email, &created, &updated); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = apiTime(fromMillis(created)), apiTime(fromMillis(updated))
	c.pii.name = customerName{First: nullString(first), Last: nullString(last), Full: nullString(full)}
	c.pii.email = nullString(email)
	return c, nil
}

// customer loads a customer the subject may see; 404 otherwise.
func (s *Server) customer(ctx context.Context, sub subject, guid string) (customerJSON, error) {
	if !validGUID(guid) || (sub.isCustomer() && guid != sub.CustomerGUID) {
		return customerJSON{}, errorf(http.StatusNotFound, codeNotFound, "Customer not found")
	}
	c, err := scanCustomer(s.db.QueryRowContext(ctx,
		`SELECT `+customerColumns+` FROM customers WHERE guid = ? AND bank_guid = ?`, guid, sub.BankGUID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, errorf(http.StatusNotFound, codeNotFound, "Customer not found")
	}
	return c, err
}

// noCustomer turns "customer not found" into the 422 a request body's
// unknown customer_guid answers.
func noCustomer(err error) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return errorf(http.StatusUnprocessableEntity, codeNoCustomer, "Customer not found")
	}
	return err
}

func (s *Server) handleCreateCustomer(w http.ResponseWriter, r *http.Request, sub subject) {
	if sub.isCustomer() {
		writeError(w, http.StatusForbidden, codeInvalidSubject, "Customers are created with a bank token")
		return
	}
	var req struct {
		Type         string        `json:"type"`
		Name         *customerName `json:"name"`
		EmailAddress string        `json:"email_address"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch req.Type {
	case "":
		writeError(w, http.StatusBadRequest, codeMissingParameter, "type is required")
		return
	case "individual", "business":
	default:
		writeError(w, http.StatusBadRequest, codeInvalidValue, "type must be individual or business")
		return
	}
	var name customerName
	if req.Name != nil {
		name = *req.Name
	}
	now := millis(time.Now())
	guid := newGUID()
	_, err := s.db.ExecContext(r.Context(), `INSERT INTO customers
		(guid, bank_guid, type, state, first_name, last_name, full_name, email_address, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		guid, sub.BankGUID, req.Type, customerStoring, name.First, name.Last, name.Full, strOrNil(req.EmailAddress), now, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.scheduleCustomerStored(guid)
	c, err := s.customer(r.Context(), sub, guid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) scheduleCustomerStored(guid string) {
	s.after(s.cfg.StoringDelay, func(ctx context.Context) {
		_, err := s.db.ExecContext(ctx, `UPDATE customers SET state = ?, updated_at = ? WHERE guid = ? AND state = ?`,
			customerUnverified, millis(time.Now()), guid, customerStoring)
		if err != nil {
			s.log.Error("customer transition failed", "customer", guid, "err", err)
		}
	})
}

// Shaped like the other handlers (read, check, s.fail on the first refusal, write); the shared steps are helpers already.
func (s *Server) handleGetCustomer(w http.ResponseWriter, r *http.Request, sub subject) {
	pii, err := boolParam(r, "include_pii")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.customer(r.Context(), sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c.withPII(pii))
}

func (s *Server) handleListCustomers(w http.ResponseWriter, r *http.Request, sub subject) {
	pg, err := parsePaging(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pii, err := boolParam(r, "include_pii")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var wh where
	wh.add("bank_guid = ?", sub.BankGUID)
	if sub.isCustomer() {
		wh.add("guid = ?", sub.CustomerGUID)
	}
	for _, f := range []struct{ param, column string }{{"guid", "guid"}, {"bank_guid", "bank_guid"}} {
		if err := wh.in(r, f.param, f.column, validGUID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	listPage(s, w, r, "customers", customerColumns, wh, pg, scanCustomer, func(c customerJSON) customerJSON { return c.withPII(pii) })
}

// listJSON is the contract's list envelope.
type listJSON[T any] struct {
	Total   int `json:"total"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Objects []T `json:"objects"`
}
