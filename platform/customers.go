package platform

import (
	"context"
	"net/http"
	"net/url"
)

// CreateCustomerRequest creates an individual (FirstName, LastName) or a
// business (BusinessName).
type CreateCustomerRequest struct {
	Type                                            string
	FirstName, LastName, BusinessName, EmailAddress string
}

type postCustomer struct {
	Type         string        `json:"type"`
	Name         *CustomerName `json:"name,omitempty"`
	EmailAddress string        `json:"email_address,omitempty"`
}

// CreateCustomer is never retried.
func (c *Client) CreateCustomer(ctx context.Context, req CreateCustomerRequest) (Customer, error) {
	body := postCustomer{Type: req.Type, EmailAddress: req.EmailAddress}
	switch {
	case req.BusinessName != "":
		body.Name = &CustomerName{Full: &req.BusinessName}
	case req.FirstName != "" || req.LastName != "":
		body.Name = &CustomerName{First: &req.FirstName, Last: &req.LastName}
	}
	return call[Customer](ctx, c, request{method: http.MethodPost, url: c.apiURL("customers"), body: body})
}

// GetCustomer returns one customer; includePII adds name and email_address.
func (c *Client) GetCustomer(ctx context.Context, guid string, includePII bool) (Customer, error) {
	q := url.Values{}
	if includePII {
		q.Set("include_pii", "true")
	}
	return call[Customer](ctx, c, request{method: http.MethodGet, url: c.apiURL("customers", guid), query: q})
}

// ListCustomersParams filters and pages GET /api/customers.
type ListCustomersParams struct {
	Page, PerPage    int
	GUIDs, BankGUIDs []string
	IncludePII       bool
}

// ListCustomers returns one page, newest first.
func (c *Client) ListCustomers(ctx context.Context, p ListCustomersParams) (CustomerList, error) {
	q := listQuery(p.Page, p.PerPage, map[string][]string{"guid": p.GUIDs, "bank_guid": p.BankGUIDs})
	if p.IncludePII {
		q.Set("include_pii", "true")
	}
	return call[CustomerList](ctx, c, request{method: http.MethodGet, url: c.apiURL("customers"), query: q})
}
