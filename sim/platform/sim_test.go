package simplatform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform/contract"
)

// fakePlaid: public token "public-X" gives Item "item-X" with account "acct-X".
type fakePlaid struct {
	mu                  sync.Mutex
	linkRequests        []LinkTokenRequest
	refreshTransactions func(context.Context, string) error
	verifyWebhook       func(context.Context, string, []byte) (Webhook, error)
}

var _ Plaid = (*fakePlaid)(nil)

func (f *fakePlaid) CreateLinkToken(_ context.Context, req LinkTokenRequest) (LinkToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.linkRequests = append(f.linkRequests, req)
	return LinkToken{Token: "link-sandbox-x"}, nil
}
func (f *fakePlaid) ExchangePublicToken(_ context.Context, pt string) (ItemAccess, error) {
	id := strings.TrimPrefix(pt, "public-")
	return ItemAccess{AccessToken: "access-" + id, ItemID: "item-" + id}, nil
}
func (f *fakePlaid) Accounts(_ context.Context, at string) (Item, []Account, error) {
	id := strings.TrimPrefix(at, "access-")
	return Item{ItemID: "item-" + id, InstitutionID: "ins_128026"}, []Account{{AccountID: "acct-" + id, Name: "Card " + id, Mask: "9999"}}, nil
}
func (f *fakePlaid) RefreshTransactions(ctx context.Context, at string) error {
	if f.refreshTransactions != nil {
		return f.refreshTransactions(ctx, at)
	}
	return nil
}
func (f *fakePlaid) Balances(context.Context, string) (map[string]Balance, error) { return nil, nil }
func (f *fakePlaid) ResetLogin(context.Context, string) error                     { return nil }
func (f *fakePlaid) RemoveItem(context.Context, string) error                     { return nil }
func (f *fakePlaid) VerifyWebhook(ctx context.Context, h string, body []byte) (Webhook, error) {
	return f.verifyWebhook(ctx, h, body)
}

type testSim struct {
	*Server
	url   string
	plaid *fakePlaid
	token string
}

func newTestSim(t *testing.T, dir string) *testSim {
	t.Helper()
	p := &fakePlaid{}
	s, err := New(context.Background(), Config{DataDir: dir, Plaid: p, StoringDelay: 20 * time.Millisecond,
		ClientID: "bank-id", ClientSecret: "bank-secret"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Every exchange is checked against the platform's definitions.
	srv := httptest.NewServer(contract.Middleware(t, s.Handler()))
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	ts := &testSim{Server: s, url: srv.URL, plaid: p}
	ts.token = ts.fetchToken(t, "application/json")
	return ts
}

// fetchToken asks for a bank token with a JSON or a form body.
func (ts *testSim) fetchToken(t *testing.T, contentType string) string {
	t.Helper()
	var body string
	if contentType == "application/json" {
		body = `{"grant_type":"client_credentials","client_id":"bank-id","client_secret":"bank-secret"}`
	} else {
		body = url.Values{"grant_type": {"client_credentials"}, "client_id": {"bank-id"}, "client_secret": {"bank-secret"},
			"scope": {"external_bank_accounts:read external_bank_accounts:execute"}}.Encode()
	}
	resp, err := http.Post(ts.url+"/oauth/token", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.AccessToken == "" {
		t.Fatalf("token (%s): status %d, %v", contentType, resp.StatusCode, err)
	}
	return out.AccessToken
}

func (ts *testSim) do(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func (ts *testSim) link(t *testing.T, id string) accountView {
	t.Helper()
	var a accountView
	status := ts.do(t, "POST", "/api/external_bank_accounts", map[string]string{"name": "Card " + id, "account_kind": "plaid",
		"asset": "USD", "plaid_public_token": "public-" + id, "plaid_account_id": "acct-" + id}, &a)
	if status != 201 {
		t.Fatalf("create account: status %d", status)
	}
	return a
}

type accountView struct {
	GUID        string  `json:"guid"`
	State       string  `json:"state"`
	FailureCode *string `json:"failure_code"`
}

func (ts *testSim) waitForState(t *testing.T, guid, want string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() error {
		var a accountView
		ts.do(t, "GET", "/api/external_bank_accounts/"+guid, nil, &a)
		if a.State != want {
			return fmt.Errorf("account %s: got %q, want %q", guid, a.State, want)
		}
		return nil
	})
}

func (ts *testSim) state(t *testing.T, guid string) string {
	t.Helper()
	var a accountView
	ts.do(t, "GET", "/api/external_bank_accounts/"+guid, nil, &a)
	return a.State
}

func TestTokenEndpointAcceptsJSONAndForm(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded"} {
		t.Run(ct, func(t *testing.T) {
			ts.token = ts.fetchToken(t, ct)
			var list listJSON[accountJSON]
			if status := ts.do(t, "GET", "/api/external_bank_accounts", nil, &list); status != 200 {
				t.Errorf("list with the %s token: got %d, want 200", ct, status)
			}
		})
	}
}

func TestPlaidWebhook(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	a := ts.link(t, "hook")
	ts.waitForState(t, a.GUID, stateCompleted)

	var next Webhook
	ts.plaid.verifyWebhook = func(_ context.Context, header string, _ []byte) (Webhook, error) {
		if header != "signed" {
			return Webhook{}, errors.New("bad signature")
		}
		return next, nil
	}
	post := func(header string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.url+"/plaid/webhook", strings.NewReader(`{}`))
		req.Header.Set("Plaid-Verification", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("webhook: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		name      string
		header    string
		hook      Webhook
		patch     string // PATCH state sent after the webhook
		wantCode  int
		wantState string
	}{
		{"unverified webhook refused", "forged", Webhook{WebhookType: "ITEM", WebhookCode: "ERROR", ItemID: "item-hook", ErrorCode: "ITEM_LOGIN_REQUIRED", ID: "1"}, "", 400, stateCompleted},
		{"login required", "signed", Webhook{WebhookType: "ITEM", WebhookCode: "ERROR", ItemID: "item-hook", ErrorCode: "ITEM_LOGIN_REQUIRED", ID: "1"}, "", 200, stateRefreshRequired},
		{"login repaired does not clear it", "signed", Webhook{WebhookType: "ITEM", WebhookCode: "LOGIN_REPAIRED", ItemID: "item-hook", ID: "2"}, "completed", 200, stateCompleted},
		{"redelivery is ignored", "signed", Webhook{WebhookType: "ITEM", WebhookCode: "ERROR", ItemID: "item-hook", ErrorCode: "ITEM_LOGIN_REQUIRED", ID: "1"}, "", 200, stateCompleted},
		{"pending expiration leaves the state", "signed", Webhook{WebhookType: "ITEM", WebhookCode: "PENDING_EXPIRATION", ItemID: "item-hook", ID: "3"}, "", 200, stateCompleted},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			next = st.hook
			if got := post(st.header); got != st.wantCode {
				t.Fatalf("status: got %d, want %d", got, st.wantCode)
			}
			if st.name == "login repaired does not clear it" {
				if got := ts.state(t, a.GUID); got != stateRefreshRequired {
					t.Fatalf("after LOGIN_REPAIRED: got %q, want refresh_required", got)
				}
			}
			if st.patch != "" {
				if status := ts.do(t, "PATCH", "/api/external_bank_accounts/"+a.GUID, map[string]string{"state": st.patch}, nil); status != 200 {
					t.Fatalf("PATCH: got %d, want 200", status)
				}
			}
			if got := ts.state(t, a.GUID); got != st.wantState {
				t.Errorf("state: got %q, want %q", got, st.wantState)
			}
		})
	}
}

func TestPinnedStateStaysPut(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	sb := Sandbox{BaseURL: ts.url}
	pinned := ts.link(t, "pinned")
	if err := sb.PinState(context.Background(), pinned.GUID, stateStoring, ""); err != nil {
		t.Fatalf("PinState: %v", err)
	}
	// A later account completing proves the pinned one's timer has fired too.
	later := ts.link(t, "later")
	ts.waitForState(t, later.GUID, stateCompleted)
	if got := ts.state(t, pinned.GUID); got != stateStoring {
		t.Errorf("pinned account: got %q, want storing", got)
	}
	if err := sb.PinState(context.Background(), pinned.GUID, stateFailed, "create_failed"); err != nil {
		t.Fatalf("PinState failed: %v", err)
	}
	var a accountView
	ts.do(t, "GET", "/api/external_bank_accounts/"+pinned.GUID, nil, &a)
	if a.State != stateFailed || a.FailureCode == nil || *a.FailureCode != "create_failed" {
		t.Errorf("pinned failed: got %+v, want failed / create_failed", a)
	}
	if err := sb.PinState(context.Background(), pinned.GUID, "bogus", ""); err == nil {
		t.Errorf("PinState bogus: got nil, want an error")
	}
}

func TestRestartResumesPendingWork(t *testing.T) {
	dir := t.TempDir()
	first := newTestSim(t, dir)
	a := first.link(t, "resume")
	bank := first.BankGUID()
	first.Close() // before the storing delay has passed

	second := newTestSim(t, dir)
	if second.BankGUID() != bank {
		t.Errorf("bank guid after restart: got %s, want %s", second.BankGUID(), bank)
	}
	second.waitForState(t, a.GUID, stateCompleted)
}

func TestForceRefreshErrors(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	a := ts.link(t, "capone")
	ts.waitForState(t, a.GUID, stateCompleted)
	ts.plaid.refreshTransactions = func(context.Context, string) error {
		return &PlaidError{Type: "INVALID_REQUEST", Code: "PRODUCTS_NOT_SUPPORTED"}
	}
	var e apiError
	status := ts.do(t, "GET", "/api/external_bank_accounts/"+a.GUID+"?force_balance_refresh=true", nil, &e)
	if status != 422 || !strings.Contains(e.ErrorMessage, "PRODUCTS_NOT_SUPPORTED") {
		t.Errorf("got %d %+v, want 422 naming PRODUCTS_NOT_SUPPORTED", status, e)
	}
	if got := ts.state(t, a.GUID); got != stateCompleted {
		t.Errorf("state: got %q, want completed", got)
	}
}

func TestBankLevelUpdateAllowsAccountSelection(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	a := ts.link(t, "org")
	ts.waitForState(t, a.GUID, stateCompleted)
	var wf workflowJSON
	status := ts.do(t, "POST", "/api/workflows", map[string]string{"type": "plaid", "kind": "link_token_update", "language": "en", "link_customization_name": "default", "external_bank_account_guid": a.GUID}, &wf)
	if status != 201 {
		t.Fatalf("POST workflow: got %d, want 201", status)
	}
	testutil.Eventually(t, 30*time.Second, func() error {
		var got struct {
			State string `json:"state"`
		}
		ts.do(t, "GET", "/api/workflows/"+wf.GUID, nil, &got)
		if got.State != "completed" {
			return fmt.Errorf("workflow: got %q, want completed", got.State)
		}
		return nil
	})
	ts.plaid.mu.Lock()
	req := ts.plaid.linkRequests[len(ts.plaid.linkRequests)-1]
	ts.plaid.mu.Unlock()
	if req.AccessToken != "access-org" || !req.AccountSelection || req.ClientUserID != ts.BankGUID() {
		t.Errorf("link token request: got %+v, want update mode for the bank with account selection", req)
	}
}

// TestListPerformance100k checks the list stays fast over 100,000 accounts
// (the portal syncs them in 1001 requests): it walks every page once.
func TestListPerformance100k(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 accounts")
	}
	ts := newTestSim(t, t.TempDir())
	guids, err := Sandbox{BaseURL: ts.url}.SeedAccounts(context.Background(), SeedRequest{Count: 100_000})
	if err != nil || len(guids) != 100_000 {
		t.Fatalf("seed: %d, %v", len(guids), err)
	}
	start := time.Now()
	seen := 0
	for page := 0; ; page++ {
		var list listJSON[accountJSON]
		if status := ts.do(t, "GET", "/api/external_bank_accounts?per_page=100&page="+itoa(page), nil, &list); status != 200 {
			t.Fatalf("page %d: status %d", page, status)
		}
		seen += len(list.Objects)
		if len(list.Objects) < 100 || (page+1)*100 >= list.Total {
			break
		}
	}
	if seen != 100_000 {
		t.Errorf("accounts seen: got %d, want 100000", seen)
	}
	t.Logf("listed 100,000 accounts in %v", time.Since(start))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
