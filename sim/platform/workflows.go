package simplatform

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"
	"time"
)

const (
	kindLinkTokenCreate = "link_token_create"
	kindLinkTokenUpdate = "link_token_update"
)

var languages = []string{"en", "fr", "es", "nl", "de"}

// workflowJSON is the contract's workflow; PlaidLinkToken is present (null
// until ready) only on GET of one.
type workflowJSON struct {
	GUID           string   `json:"guid"`
	BankGUID       string   `json:"bank_guid"`
	CustomerGUID   *string  `json:"customer_guid"`
	Type           string   `json:"type"`
	State          string   `json:"state"`
	FailureCode    *string  `json:"failure_code"`
	CreatedAt      apiTime  `json:"created_at"`
	UpdatedAt      apiTime  `json:"updated_at"`
	PlaidLinkToken **string `json:"plaid_link_token,omitempty"`
}

type workflow struct {
	workflowJSON
	kind, language, redirectURI string
	accountGUID                 *string
	linkToken                   *string
}

func (wf workflow) json(withToken bool) workflowJSON {
	out := wf.workflowJSON
	if withToken {
		tok := wf.linkToken
		out.PlaidLinkToken = &tok
	}
	return out
}

const workflowColumns = `guid, bank_guid, customer_guid, type, state, failure_code, created_at, updated_at,
	kind, language, redirect_uri, external_bank_account_guid, plaid_link_token`

func scanWorkflow(row interface{ Scan(...any) error }) (workflow, error) {
	var wf workflow
	var customer, failure, accountGUID, token sql.NullString
	var created, updated int64
	err := row.Scan(&wf.GUID, &wf.BankGUID, &customer, &wf.Type, &wf.State, &failure, &created, &updated,
		&wf.kind, &wf.language, &wf.redirectURI, &accountGUID, &token)
	if err != nil {
		return wf, err
	}
	wf.CustomerGUID, wf.FailureCode = nullString(customer), nullString(failure)
	wf.CreatedAt, wf.UpdatedAt = apiTime(fromMillis(created)), apiTime(fromMillis(updated))
	wf.accountGUID, wf.linkToken = nullString(accountGUID), nullString(token)
	return wf, nil
}

// workflow loads a workflow the subject may see; 404 otherwise.
func (s *Server) workflow(ctx context.Context, sub subject, guid string) (workflow, error) {
	return visible(ctx, s, sub, guid, "Workflow",
		`SELECT `+workflowColumns+` FROM workflows WHERE guid = ? AND bank_guid = ?`,
		scanWorkflow, func(wf workflow) string { return ownerOf(wf.CustomerGUID) })
}

type createWorkflowRequest struct {
	Type                    string  `json:"type"`
	Kind                    string  `json:"kind"`
	Language                string  `json:"language"`
	LinkCustomizationName   string  `json:"link_customization_name"`
	CustomerGUID            *string `json:"customer_guid"`
	ExternalBankAccountGUID string  `json:"external_bank_account_guid"`
	RedirectURI             string  `json:"redirect_uri"`
	AndroidPackageName      string  `json:"android_package_name"`
}

func (s *Server) validateWorkflow(req *createWorkflowRequest) error {
	switch {
	case req.Type == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "type is required")
	case req.Type != "plaid":
		return errorf(http.StatusBadRequest, codeInvalidValue, "type must be plaid")
	case req.Kind == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "kind is required")
	case req.Kind != kindLinkTokenCreate && req.Kind != kindLinkTokenUpdate:
		return errorf(http.StatusBadRequest, codeInvalidValue, "kind must be link_token_create or link_token_update")
	case req.Language == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "language is required for a plaid workflow")
	case req.LinkCustomizationName == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "link_customization_name is required for a plaid workflow")
	case !slices.Contains(languages, req.Language):
		return errorf(http.StatusBadRequest, codeInvalidValue, "language must be one of en, fr, es, nl, de")
	case len(req.LinkCustomizationName) > 128 || len(req.AndroidPackageName) > 128:
		return errorf(http.StatusBadRequest, codeInvalidValue, "link_customization_name and android_package_name are at most 128 characters")
	case len(req.RedirectURI) > 128:
		return errorf(http.StatusBadRequest, codeInvalidValue, "redirect_uri is longer than 128 characters")
	case req.RedirectURI != "" && !s.redirects[req.RedirectURI]:
		return errorf(http.StatusBadRequest, codeInvalidValue, "redirect_uri is not registered")
	case req.CustomerGUID != nil && !validGUID(*req.CustomerGUID):
		return errorf(http.StatusBadRequest, codeInvalidValue, "customer_guid is not a guid")
	case req.Kind == kindLinkTokenUpdate && req.ExternalBankAccountGUID == "":
		return errorf(http.StatusBadRequest, codeMissingParameter, "external_bank_account_guid is required for link_token_update")
	case req.ExternalBankAccountGUID != "" && !validGUID(req.ExternalBankAccountGUID):
		return errorf(http.StatusBadRequest, codeInvalidValue, "external_bank_account_guid is not a guid")
	}
	return nil
}

func (s *Server) handleCreateWorkflow(w http.ResponseWriter, r *http.Request, sub subject) {
	var req createWorkflowRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.validateWorkflow(&req); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	owner, err := s.owner(ctx, sub, req.CustomerGUID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var accountGUID *string
	if req.Kind == kindLinkTokenUpdate {
		a, err := s.account(ctx, sub, req.ExternalBankAccountGUID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// The account must belong to the named customer; a bank token that
		// names no customer updates the account of whoever owns it.
		if req.CustomerGUID != nil && !sameOwner(a.CustomerGUID, owner) {
			writeError(w, http.StatusNotFound, codeNotFound, "External bank account not found")
			return
		}
		if a.State == stateDeleted || a.State == stateDeleting || a.State == stateFailed {
			writeError(w, http.StatusUnprocessableEntity, codeInvalidValue, "External bank account in state "+a.State+" cannot be updated; link it anew")
			return
		}
		owner, accountGUID = a.CustomerGUID, &a.GUID
	}
	now := millis(time.Now())
	guid := newGUID()
	_, err = s.db.ExecContext(ctx, `INSERT INTO workflows
		(guid, bank_guid, customer_guid, type, kind, language, link_customization_name, redirect_uri,
		 external_bank_account_guid, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'storing', ?, ?)`,
		guid, sub.BankGUID, owner, req.Type, req.Kind, req.Language, req.LinkCustomizationName, req.RedirectURI,
		accountGUID, now, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.scheduleLinkToken(guid)
	wf, err := s.workflow(ctx, sub, guid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wf.json(false))
}

func sameOwner(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// scheduleLinkToken fetches the workflow's link token from Plaid in the
// background, as the platform does.
func (s *Server) scheduleLinkToken(guid string) {
	s.after(s.cfg.StoringDelay, func(ctx context.Context) {
		token, err := s.fetchLinkToken(ctx, guid)
		now := millis(time.Now())
		if err != nil {
			s.log.Warn("workflow failed", "workflow", guid, "err", err)
			_, err = s.db.ExecContext(ctx, `UPDATE workflows SET state = 'failed', failure_code = 'create_failed', updated_at = ?
				WHERE guid = ? AND state = 'storing'`, now, guid)
		} else {
			_, err = s.db.ExecContext(ctx, `UPDATE workflows SET state = 'completed', plaid_link_token = ?, updated_at = ?
				WHERE guid = ? AND state = 'storing'`, token, now, guid)
		}
		if err != nil {
			s.log.Error("workflow transition failed", "workflow", guid, "err", err)
		}
	})
}

func (s *Server) fetchLinkToken(ctx context.Context, guid string) (string, error) {
	wf, err := scanWorkflow(s.db.QueryRowContext(ctx, `SELECT `+workflowColumns+` FROM workflows WHERE guid = ?`, guid))
	if err != nil {
		return "", err
	}
	req := LinkTokenRequest{
		ClientUserID: wf.BankGUID,
		ClientName:   s.cfg.ClientName,
		Language:     wf.language,
		RedirectURI:  wf.redirectURI,
		Webhook:      s.cfg.WebhookURL,
	}
	if wf.CustomerGUID != nil {
		req.ClientUserID = *wf.CustomerGUID
	}
	if wf.kind == kindLinkTokenUpdate && wf.accountGUID != nil {
		var token string
		var customer sql.NullString
		err := s.db.QueryRowContext(ctx, `SELECT plaid_access_token, customer_guid FROM external_bank_accounts WHERE guid = ?`,
			*wf.accountGUID).Scan(&token, &customer)
		if err != nil {
			return "", err
		}
		if token == "" {
			return "", errors.New("account has no Plaid Item (seeded)")
		}
		// Bank-level connections let the admin choose the shared accounts again.
		req.AccessToken, req.AccountSelection = token, !customer.Valid
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	lt, err := s.plaid.CreateLinkToken(ctx, req)
	if err != nil {
		return "", err
	}
	return lt.Token, nil
}

// Shaped like the other handlers (read, check, s.fail on the first refusal, write); the shared steps are helpers already.
func (s *Server) handleGetWorkflow(w http.ResponseWriter, r *http.Request, sub subject) {
	wf, err := s.workflow(r.Context(), sub, r.PathValue("guid"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wf.json(true))
}

func (s *Server) handleListWorkflows(w http.ResponseWriter, r *http.Request, sub subject) {
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
	for _, param := range []string{"guid", "bank_guid", "customer_guid"} {
		if err := wh.in(r, param, param, validGUID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	listPage(s, w, r, "workflows", workflowColumns, wh, pg, scanWorkflow, func(wf workflow) workflowJSON { return wf.json(false) })
}
