package platform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

func TestErrorBodies(t *testing.T) {
	h, cust := newHarnessWithCustomer(t)
	ctx := context.Background()
	a := h.linkAccount(t, cust.GUID, "err")
	readOnly := h.newClient(func(c *platform.Config) { c.Scopes = []string{platform.ScopeExternalBankAccountsRead} })
	wrongSecret := h.newClient(func(c *platform.Config) { c.ClientSecret = "wrong" })

	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"missing name", func() error {
			_, err := h.client.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{AccountKind: "plaid"})
			return err
		}, 400, platform.CodeMissingParameter},
		{"bad account kind", func() error {
			_, err := h.client.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: "x", AccountKind: "cash"})
			return err
		}, 400, platform.CodeInvalidValue},
		{"per_page over 100", func() error {
			_, err := h.client.ListExternalBankAccounts(ctx, platform.ListAccountsParams{PerPage: 101})
			return err
		}, 400, platform.CodeInvalidValue},
		{"filter guid malformed", func() error {
			_, err := h.client.ListExternalBankAccounts(ctx, platform.ListAccountsParams{GUIDs: []string{"ABC"}})
			return err
		}, 400, platform.CodeInvalidValue},
		{"filter over 4096 characters", func() error {
			_, err := h.client.ListExternalBankAccounts(ctx, platform.ListAccountsParams{Assets: []string{strings.Repeat("U", 4097)}})
			return err
		}, 400, platform.CodeInvalidValue},
		{"unknown state in filter", func() error {
			_, err := h.client.ListExternalBankAccounts(ctx, platform.ListAccountsParams{States: []string{"active"}})
			return err
		}, 400, platform.CodeInvalidValue},
		{"unregistered redirect uri", func() error {
			_, err := h.client.CreateWorkflow(ctx, platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenCreate, RedirectURI: "https://evil.example/"})
			return err
		}, 400, platform.CodeInvalidValue},
		{"update without account", func() error {
			_, err := h.client.CreateWorkflow(ctx, platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenUpdate})
			return err
		}, 400, platform.CodeMissingParameter},
		{"wrong client secret", func() error {
			_, err := wrongSecret.ListExternalBankAccounts(ctx, platform.ListAccountsParams{})
			return err
		}, 401, platform.CodeAuthenticationFailed},
		{"missing scope", func() error {
			_, err := readOnly.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: "completed"})
			return err
		}, 403, platform.CodeInvalidScopes},
		{"unknown account", func() error {
			_, err := h.client.GetExternalBankAccount(ctx, strings.Repeat("0", 32), platform.GetAccountOptions{})
			return err
		}, 404, platform.CodeNotFound},
		{"unknown workflow", func() error {
			_, err := h.client.GetWorkflow(ctx, strings.Repeat("a", 32))
			return err
		}, 404, platform.CodeNotFound},
		{"unknown customer", func() error {
			_, err := h.client.GetCustomer(ctx, strings.Repeat("b", 32), false)
			return err
		}, 404, platform.CodeNotFound},
		{"account for unknown customer", func() error {
			_, err := h.client.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: "x", AccountKind: "plaid", Asset: "USD",
				CustomerGUID: strings.Repeat("c", 32), PlaidPublicToken: "public-x", PlaidAccountID: "acct-x"})
			return err
		}, 422, platform.CodeNoCustomer},
		{"raw routing details not supported", func() error {
			_, err := h.client.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: "x", AccountKind: platform.AccountKindRawRoutingDetails})
			return err
		}, 422, platform.CodeInvalidValue},
		{"update of another customer's account", func() error {
			other := h.createCustomer(t)
			_, err := h.client.CreateWorkflow(ctx, platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenUpdate, CustomerGUID: other.GUID, ExternalBankAccountGUID: a.GUID})
			return err
		}, 404, platform.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := wantError(t, tt.call(), tt.status, tt.code)
			if pe.ErrorMessage == "" {
				t.Errorf("error_message: got empty, want text")
			}
		})
	}
	if !platform.IsNotFound(tests[10].call()) {
		t.Errorf("IsNotFound: got false for a 404")
	}
}

// TestAuthFailures sends raw requests, since the client always has a token.
func TestAuthFailures(t *testing.T) {
	h := newHarness(t, func(c *simplatform.Config) { c.TokenLifetime = time.Second })
	tok := bankToken(t, h, "external_bank_accounts:read")

	tests := []struct {
		name   string
		header string
		status int
		code   string
	}{
		{"no token", "", 401, platform.CodeAuthenticationFailed},
		{"not a bearer token", "Basic abc", 401, platform.CodeAuthenticationMalformed},
		{"garbage token", "Bearer not-a-jwt", 401, platform.CodeAuthenticationMalformed},
		{"forged signature", "Bearer " + tok[:strings.LastIndex(tok, ".")+1] + "AAAA", 401, platform.CodeAuthenticationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawGet(t, h.url+"/api/external_bank_accounts", tt.header)
			wantBody(t, status, body, tt.status, tt.code)
		})
	}
	t.Run("valid token lacks the scope", func(t *testing.T) {
		status, body := rawGet(t, h.url+"/api/workflows", "Bearer "+tok)
		wantBody(t, status, body, 403, platform.CodeInvalidScopes)
	})
	t.Run("expired token", func(t *testing.T) {
		var status int
		var body []byte
		testutil.Eventually(t, 30*time.Second, func() error {
			if status, body = rawGet(t, h.url+"/api/external_bank_accounts", "Bearer "+tok); status != 401 {
				return fmt.Errorf("token after its lifetime: got status %d, want 401", status)
			}
			return nil
		})
		wantBody(t, status, body, 401, platform.CodeAuthenticationFailed)
	})
}

// bankToken gets a token with the contract's JSON token request.
func bankToken(t *testing.T, h *harness, scope string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{
		"grant_type": "client_credentials", "client_id": h.sim.ClientID(), "client_secret": h.sim.ClientSecret(), "scope": scope,
	})
	resp, err := http.Post(h.url+"/oauth/token", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	if out.TokenType != "Bearer" || out.Scope != scope || out.ExpiresIn <= 0 {
		t.Errorf("token response: got %+v, want Bearer with scope %q", out, scope)
	}
	return out.AccessToken
}

func rawGet(t *testing.T, url, authorization string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// wantBody checks an error body is exactly {"status","error_message","message_code"}.
func wantBody(t *testing.T, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if status != wantStatus || m["status"] != float64(wantStatus) || m["message_code"] != wantCode || len(m) != 3 {
		t.Errorf("got %d %v, want %d with exactly status, error_message, message_code = %s", status, m, wantStatus, wantCode)
	}
	if msg, _ := m["error_message"].(string); msg == "" {
		t.Errorf("error_message: got %v, want text", m["error_message"])
	}
}
