package platform

import (
	"context"
	"net/http"
)

// CreateWorkflowRequest asks for a Plaid link token. Kind is
// link_token_create (CustomerGUID empty for a bank-level link) or
// link_token_update (ExternalBankAccountGUID required).
type CreateWorkflowRequest struct {
	Type                    string `json:"type"`
	Kind                    string `json:"kind,omitempty"`
	Language                string `json:"language,omitempty"`
	LinkCustomizationName   string `json:"link_customization_name,omitempty"`
	CustomerGUID            string `json:"customer_guid,omitempty"`
	ExternalBankAccountGUID string `json:"external_bank_account_guid,omitempty"`
	RedirectURI             string `json:"redirect_uri,omitempty"`
	AndroidPackageName      string `json:"android_package_name,omitempty"`
}

// CreateWorkflow answers the workflow in storing; poll GetWorkflow for the
// token. Never retried.
func (c *Client) CreateWorkflow(ctx context.Context, req CreateWorkflowRequest) (Workflow, error) {
	if req.Type == "" {
		req.Type = WorkflowTypePlaid
	}
	// The platform requires both for a plaid workflow; English is its default.
	if req.Language == "" {
		req.Language = "en"
	}
	if req.LinkCustomizationName == "" {
		req.LinkCustomizationName = "default"
	}
	return call[Workflow](ctx, c, request{method: http.MethodPost, url: c.apiURL("workflows"), body: req})
}

// GetWorkflow returns the workflow with plaid_link_token once completed.
func (c *Client) GetWorkflow(ctx context.Context, guid string) (Workflow, error) {
	return call[Workflow](ctx, c, request{method: http.MethodGet, url: c.apiURL("workflows", guid)})
}

// ListWorkflowsParams filters and pages GET /api/workflows.
type ListWorkflowsParams struct {
	Page, PerPage                   int
	GUIDs, BankGUIDs, CustomerGUIDs []string
}

// ListWorkflows returns one page, newest first.
func (c *Client) ListWorkflows(ctx context.Context, p ListWorkflowsParams) (WorkflowList, error) {
	q := listQuery(p.Page, p.PerPage, map[string][]string{
		"guid": p.GUIDs, "bank_guid": p.BankGUIDs, "customer_guid": p.CustomerGUIDs,
	})
	return call[WorkflowList](ctx, c, request{method: http.MethodGet, url: c.apiURL("workflows"), query: q})
}
