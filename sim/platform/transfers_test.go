package simplatform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform/contract"
)

// doAs is ts.do with another bearer token.
func (ts *testSim) doAs(t *testing.T, token, method, path string, body, out any) int {
	t.Helper()
	saved := ts.token
	ts.token = token
	defer func() { ts.token = saved }()
	return ts.do(t, method, path, body, out)
}

func (ts *testSim) newCustomer(t *testing.T, first string) string {
	t.Helper()
	var c customerJSON
	if status := ts.do(t, "POST", "/api/customers", map[string]any{"type": "individual", "name": map[string]string{"first": first, "last": "Test"}}, &c); status != 201 {
		t.Fatalf("create customer: status %d", status)
	}
	return c.GUID
}

func (ts *testSim) customerToken(t *testing.T, customer string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	status := ts.do(t, "POST", "/api/customer_tokens", map[string]any{"customer_guid": customer, "scopes": allScopes}, &out)
	if status != 201 || out.AccessToken == "" {
		t.Fatalf("customer token: status %d", status)
	}
	return out.AccessToken
}

// seeded inserts one account for a customer at an institution, in a state.
func (ts *testSim) seeded(t *testing.T, customer, institution, state string) string {
	t.Helper()
	guids, err := ts.seedAccounts(context.Background(), SeedRequest{CustomerGUID: &customer, Count: 1, State: state, InstitutionID: institution})
	if err != nil {
		t.Fatalf("seed account: %v", err)
	}
	return guids[0]
}

type transferView struct {
	GUID        string  `json:"guid"`
	State       string  `json:"state"`
	FailureCode *string `json:"failure_code"`
	Amount      int64   `json:"amount"`
	Side        string  `json:"side"`
	PaymentRail string  `json:"payment_rail"`
	QuoteGUID   string  `json:"quote_guid"`
	Customer    string  `json:"customer_guid"`
}

// fund quotes and executes a deposit of cents as token; it returns the
// transfer as created (201), failing the test otherwise.
func (ts *testSim) fund(t *testing.T, token, account, rail string, cents int64) transferView {
	t.Helper()
	var q quoteJSON
	if status := ts.doAs(t, token, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": cents}, &q); status != 201 {
		t.Fatalf("quote: status %d", status)
	}
	if q.ExpiresAt != nil {
		t.Fatalf("funding quote: expires_at %v, want null", *q.ExpiresAt)
	}
	var tr transferView
	status := ts.doAs(t, token, "POST", "/api/transfers", fundingBody(q, account, rail), &tr)
	if status != 201 || tr.State != transferStoring || tr.Amount != cents || tr.QuoteGUID != q.GUID {
		t.Fatalf("transfer: got %d %+v, want 201 storing for %d cents", status, tr, cents)
	}
	return tr
}

// fundingBody is the platform's funding transfer request for quote q.
func fundingBody(q quoteJSON, account, rail string) map[string]any {
	p := []map[string]any{{"type": "customer", "amount": q.ReceiveAmount, "guid": q.CustomerGUID}}
	return map[string]any{"quote_guid": q.GUID, "transfer_type": "funding", "external_bank_account_guid": account,
		"payment_rail": rail, "source_participants": p, "destination_participants": p}
}

// settled polls a transfer until it is completed or failed.
func (ts *testSim) settled(t *testing.T, token, guid string) transferView {
	t.Helper()
	seen := map[string]bool{}
	var tr transferView
	testutil.Eventually(t, 30*time.Second, func() error {
		tr = transferView{}
		if status := ts.doAs(t, token, "GET", "/api/transfers/"+guid, nil, &tr); status != 200 {
			t.Fatalf("get transfer: status %d", status)
		}
		seen[tr.State] = true
		if tr.State != transferCompleted && tr.State != transferFailed {
			return fmt.Errorf("transfer %s: got %s, want completed or failed", guid, tr.State)
		}
		return nil
	})
	if tr.State == transferCompleted && !seen[transferPending] {
		// Completed transfers go through pending; a poll every 10 ms usually sees it.
		t.Logf("transfer %s: pending not observed (states %v)", guid, seen)
	}
	return tr
}

func failure(tr transferView) string {
	if tr.FailureCode == nil {
		return ""
	}
	return *tr.FailureCode
}

func TestCustomerTokenSeesOnlyItsCustomer(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	alice, bob := ts.newCustomer(t, "Alice"), ts.newCustomer(t, "Bob")
	alicesAccount := ts.seeded(t, alice, "ins_109508", stateCompleted)
	bobsAccount := ts.seeded(t, bob, "ins_109508", stateCompleted)
	asAlice, asBob := ts.customerToken(t, alice), ts.customerToken(t, bob)
	bobsTransfer := ts.fund(t, asBob, bobsAccount, railACH, 500)
	var bobsWorkflow workflowJSON
	if status := ts.do(t, "POST", "/api/workflows", map[string]any{"type": "plaid", "kind": "link_token_create", "language": "en", "link_customization_name": "default", "customer_guid": bob}, &bobsWorkflow); status != 201 {
		t.Fatalf("bob's workflow: status %d", status)
	}
	var alicesQuote quoteJSON
	ts.doAs(t, asAlice, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 100}, &alicesQuote)
	var bobsQuote quoteJSON
	ts.doAs(t, asBob, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 100}, &bobsQuote)

	tests := []struct {
		name         string
		method, path string
		body         any
		want         int
	}{
		{"read bob's account", "GET", "/api/external_bank_accounts/" + bobsAccount, nil, 404},
		{"patch bob's account", "PATCH", "/api/external_bank_accounts/" + bobsAccount, map[string]string{"state": "refresh_required"}, 404},
		{"delete bob's account", "DELETE", "/api/external_bank_accounts/" + bobsAccount, nil, 404},
		{"read bob", "GET", "/api/customers/" + bob, nil, 404},
		{"read bob's workflow", "GET", "/api/workflows/" + bobsWorkflow.GUID, nil, 404},
		{"read bob's quote", "GET", "/api/quotes/" + bobsQuote.GUID, nil, 404},
		{"read bob's transfer", "GET", "/api/transfers/" + bobsTransfer.GUID, nil, 404},
		{"quote for bob", "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 100, "customer_guid": bob}, 422},
		{"transfer with bob's account", "POST", "/api/transfers", fundingBody(alicesQuote, bobsAccount, "ach"), 404},
		{"transfer with bob's quote", "POST", "/api/transfers", fundingBody(quoteJSON{GUID: bobsQuote.GUID, CustomerGUID: alice, ReceiveAmount: 100}, alicesAccount, "ach"), 404},
		{"update workflow on bob's account", "POST", "/api/workflows", map[string]any{"type": "plaid", "kind": "link_token_update",
			"language": "en", "link_customization_name": "default", "external_bank_account_guid": bobsAccount}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			if got := ts.doAs(t, asAlice, tt.method, tt.path, tt.body, &e); got != tt.want {
				t.Errorf("%s %s as alice: got %d %+v, want %d", tt.method, tt.path, got, e, tt.want)
			}
		})
	}
	if got := ts.state(t, bobsAccount); got != stateCompleted {
		t.Errorf("bob's account after alice's attempts: got %s, want completed", got)
	}

	lists := []struct{ path, own string }{
		{"/api/external_bank_accounts", alicesAccount},
		{"/api/external_bank_accounts?customer_guid=" + bob, ""},
		{"/api/customers", alice},
		{"/api/workflows", ""},
		{"/api/transfers", ""},
		{"/api/transfers?customer_guid=" + bob, ""},
	}
	for _, l := range lists {
		t.Run("list "+l.path, func(t *testing.T) {
			var out listJSON[struct {
				GUID string `json:"guid"`
			}]
			if status := ts.doAs(t, asAlice, "GET", l.path, nil, &out); status != 200 {
				t.Fatalf("status %d", status)
			}
			want := 0
			if l.own != "" {
				want = 1
			}
			if out.Total != want || len(out.Objects) != want || (want == 1 && out.Objects[0].GUID != l.own) {
				t.Errorf("got %+v, want only alice's own (%q)", out, l.own)
			}
		})
	}
}

func TestTransferNeedsACompletedAccount(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	alice := ts.newCustomer(t, "Alice")
	expired := ts.seeded(t, alice, "ins_109508", stateRefreshRequired)
	unverified := ts.seeded(t, alice, "ins_109508", stateUnverified)
	asAlice := ts.customerToken(t, alice)

	tr := ts.settled(t, asAlice, ts.fund(t, asAlice, expired, railACH, 2500).GUID)
	if tr.State != transferFailed || failure(tr) != transferFailRefreshRequired {
		t.Fatalf("transfer on a refresh_required account: got %s/%s, want failed/refresh_required", tr.State, failure(tr))
	}
	tr = ts.settled(t, asAlice, ts.fund(t, asAlice, unverified, railACH, 2500).GUID)
	if tr.State != transferFailed || failure(tr) != transferFailInvalidDestination {
		t.Fatalf("transfer on an unverified account: got %s/%s, want failed/invalid_destination", tr.State, failure(tr))
	}

	// The customer reconnects: the application PATCHes the account to completed.
	if status := ts.doAs(t, asAlice, "PATCH", "/api/external_bank_accounts/"+expired, map[string]string{"state": "completed"}, nil); status != 200 {
		t.Fatalf("patch to completed: status %d", status)
	}
	tr = ts.settled(t, asAlice, ts.fund(t, asAlice, expired, railACH, 2500).GUID)
	if tr.State != transferCompleted || tr.FailureCode != nil || tr.Amount != 2500 || tr.Side != sideDeposit || tr.Customer != alice {
		t.Fatalf("transfer after the reconnect: got %+v, want completed deposit of 2500 for alice", tr)
	}
}

func TestWireFailsWhereTheBankRoutesWiresElsewhere(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	alice := ts.newCustomer(t, "Alice")
	gingham := ts.seeded(t, alice, "ins_109509", stateCompleted)
	platypus := ts.seeded(t, alice, "ins_109508", stateCompleted)
	asAlice := ts.customerToken(t, alice)
	tests := []struct {
		account, rail, state, code string
	}{
		{gingham, railWire, transferFailed, transferFailPaymentRailInvalid},
		{gingham, railACH, transferCompleted, ""},
		{platypus, railWire, transferCompleted, ""},
	}
	for _, tt := range tests {
		tr := ts.settled(t, asAlice, ts.fund(t, asAlice, tt.account, tt.rail, 10_000).GUID)
		if tr.State != tt.state || failure(tr) != tt.code || tr.PaymentRail != tt.rail {
			t.Errorf("%s from %s: got %s/%s, want %s/%s", tt.rail, tt.account, tr.State, failure(tr), tt.state, tt.code)
		}
	}
}

func TestQuoteAndTransferValidation(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	alice := ts.newCustomer(t, "Alice")
	account := ts.seeded(t, alice, "ins_109508", stateCompleted)
	asAlice := ts.customerToken(t, alice)
	quotes := []struct {
		name string
		body map[string]any
		want int
		code string
	}{
		{"no product", map[string]any{"asset": "USD", "side": "deposit", "receive_amount": 1}, 400, codeMissingParameter},
		{"trading", map[string]any{"product_type": "trading", "asset": "USD", "side": "deposit", "receive_amount": 1}, 422, codeInvalidValue},
		{"bad side", map[string]any{"product_type": "funding", "asset": "USD", "side": "buy", "receive_amount": 1}, 400, codeInvalidValue},
		{"both amounts", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 1, "deliver_amount": 1}, 400, codeInvalidParameter},
		{"no amount", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit"}, 400, codeInvalidParameter},
		{"zero", map[string]any{"product_type": "funding", "asset": "USD", "side": "withdrawal", "deliver_amount": 0}, 400, codeInvalidValue},
		{"negative", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": -5}, 400, codeInvalidValue},
		{"fraction of a cent", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 1.5}, 400, codeInvalidValue},
		{"unknown field", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 1, "amount": 1}, 400, codeInvalidParameter},
	}
	for _, tt := range quotes {
		t.Run("quote "+tt.name, func(t *testing.T) {
			var e apiError
			if got := ts.doAs(t, asAlice, "POST", "/api/quotes", tt.body, &e); got != tt.want || e.MessageCode != tt.code {
				t.Errorf("got %d %s, want %d %s", got, e.MessageCode, tt.want, tt.code)
			}
		})
	}
	t.Run("bank token must name the customer", func(t *testing.T) {
		var e apiError
		if got := ts.do(t, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 1}, &e); got != 400 {
			t.Errorf("got %d %+v, want 400", got, e)
		}
	})
	t.Run("a quote is executed once", func(t *testing.T) {
		tr := ts.fund(t, asAlice, account, railACH, 700)
		var e apiError
		q := quoteJSON{GUID: tr.QuoteGUID, CustomerGUID: alice, ReceiveAmount: 700}
		got := ts.doAs(t, asAlice, "POST", "/api/transfers", fundingBody(q, account, "ach"), &e)
		if got != 422 {
			t.Errorf("second transfer on one quote: got %d %+v, want 422", got, e)
		}
	})
	t.Run("bad rail", func(t *testing.T) {
		var q quoteJSON
		ts.doAs(t, asAlice, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 1}, &q)
		var e apiError
		got := ts.doAs(t, asAlice, "POST", "/api/transfers", fundingBody(q, account, "rtp"), &e)
		if got != 400 || e.MessageCode != codeInvalidValue {
			t.Errorf("got %d %+v, want 400 invalid_value", got, e)
		}
	})
	t.Run("participants", func(t *testing.T) {
		var q quoteJSON
		ts.doAs(t, asAlice, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 500}, &q)
		bob := ts.newCustomer(t, "Bob")
		cases := []struct {
			name   string
			change func(b map[string]any)
			want   int
			code   string
		}{
			{"no source participants", func(b map[string]any) { delete(b, "source_participants") }, 400, codeMissingParameter},
			{"no destination participants", func(b map[string]any) { delete(b, "destination_participants") }, 400, codeMissingParameter},
			{"empty source participants", func(b map[string]any) { b["source_participants"] = []any{} }, 400, codeMissingParameter},
			{"unknown participant type", func(b map[string]any) {
				b["source_participants"] = []map[string]any{{"type": "counterparty", "amount": 500, "guid": alice}}
			}, 400, codeInvalidValue},
			{"another customer", func(b map[string]any) {
				b["destination_participants"] = []map[string]any{{"type": "customer", "amount": 500, "guid": bob}}
			}, 422, codeInvalidValue},
			{"wrong amount", func(b map[string]any) {
				b["source_participants"] = []map[string]any{{"type": "customer", "amount": 499, "guid": alice}}
			}, 422, codeInvalidValue},
		}
		for _, c := range cases {
			body := fundingBody(q, account, "ach")
			c.change(body)
			var e apiError
			if got := ts.doAs(t, asAlice, "POST", "/api/transfers", body, &e); got != c.want || e.MessageCode != c.code {
				t.Errorf("%s: got %d %+v, want %d %s", c.name, got, e, c.want, c.code)
			}
		}
		// Refused requests used nothing up: the quote still executes.
		var tr transferView
		if got := ts.doAs(t, asAlice, "POST", "/api/transfers", fundingBody(q, account, "ach"), &tr); got != 201 {
			t.Errorf("with participants after the refusals: got %d, want 201", got)
		}
	})
	t.Run("scopes", func(t *testing.T) {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		ts.do(t, "POST", "/api/customer_tokens", map[string]any{"customer_guid": alice, "scopes": []string{"transfers:read"}}, &out)
		var e apiError
		if got := ts.doAs(t, out.AccessToken, "POST", "/api/quotes", map[string]any{"product_type": "funding", "asset": "USD", "side": "deposit", "receive_amount": 1}, &e); got != 403 || e.MessageCode != codeInvalidScopes {
			t.Errorf("quote without quotes:execute: got %d %+v, want 403 invalid_scopes", got, e)
		}
	})
}

func TestTransfersSettleAfterARestart(t *testing.T) {
	dir := t.TempDir()
	first := newTestSim(t, dir)
	alice := first.newCustomer(t, "Alice")
	account := first.seeded(t, alice, "ins_109508", stateCompleted)
	asAlice := first.customerToken(t, alice)
	tr := first.fund(t, asAlice, account, railACH, 100)
	first.Close() // before the storing delay has passed: its timer is lost

	second := newTestSim(t, dir)
	if got := second.settled(t, asAlice, tr.GUID); got.State != transferCompleted {
		t.Errorf("after a restart: got %s, want completed", got.State)
	}
}

// The transfer JSON has exactly the contract's fields.
func TestTransferFields(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	alice := ts.newCustomer(t, "Alice")
	account := ts.seeded(t, alice, "ins_109508", stateCompleted)
	tr := ts.fund(t, ts.customerToken(t, alice), account, railACH, 100)
	req, _ := http.NewRequest("GET", ts.url+"/api/transfers/"+tr.GUID, nil)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	var fields map[string]any
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	want := []string{"guid", "transfer_type", "customer_guid", "quote_guid", "external_bank_account_guid", "asset", "side", "state",
		"failure_code", "amount", "payment_rail", "created_at", "updated_at", "source_participants", "destination_participants"}
	if len(fields) != len(want) {
		t.Errorf("fields: got %v, want exactly %v", fields, want)
	}
	for _, f := range want {
		if _, ok := fields[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
}

// An API key created without transfers:execute: the platform refuses a token
// asking for it (403 invalid_scopes), grants one without it, and a customer
// token never gets more than the bank token that mints it.
func TestAPIKeyWithoutTransfersExecute(t *testing.T) {
	keyScopes := []string{}
	for _, sc := range allScopes {
		if sc != scopeTransfersExecute {
			keyScopes = append(keyScopes, sc)
		}
	}
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Plaid: &fakePlaid{}, ClientID: "bank-id", ClientSecret: "bank-secret", KeyScopes: keyScopes})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	token := func(scope string) (int, string, apiError) {
		body := `{"grant_type":"client_credentials","client_id":"bank-id","client_secret":"bank-secret","scope":"` + scope + `"}`
		resp, err := http.Post(srv.URL+"/oauth/token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		var e apiError
		json.Unmarshal(raw, &out)
		json.Unmarshal(raw, &e)
		return resp.StatusCode, out.AccessToken, e
	}
	if status, tok, e := token("external_bank_accounts:read transfers:execute"); status != 403 || e.MessageCode != codeInvalidScopes || tok != "" {
		t.Errorf("token with transfers:execute: got %d %+v, want 403 invalid_scopes and no token", status, e)
	}
	status, bankToken, _ := token(strings.Join(keyScopes, " "))
	if status != 200 || bankToken == "" {
		t.Fatalf("token without transfers:execute: got %d, want 200", status)
	}
	ts := &testSim{Server: s, url: srv.URL, token: bankToken}
	alice := ts.newCustomer(t, "Alice")
	var e apiError
	if got := ts.do(t, "POST", "/api/customer_tokens", map[string]any{"customer_guid": alice, "scopes": []string{scopeTransfersExecute}}, &e); got != 403 || e.MessageCode != codeInvalidScopes {
		t.Errorf("customer token with a scope the bank token lacks: got %d %+v, want 403 invalid_scopes", got, e)
	}
	if _, err := New(context.Background(), Config{DataDir: t.TempDir(), Plaid: &fakePlaid{}, KeyScopes: []string{"transfers:everything"}}); err == nil {
		t.Error("an unknown key scope was accepted")
	}
}

// The simulator's enums are the pinned definitions': it never answers a value
// the platform does not have, and knows every one it has.
func TestSimulatorEnumsMatchTheDefinitions(t *testing.T) {
	same := func(name string, got, want []string) {
		t.Helper()
		g, w := slices.Clone(got), slices.Clone(want)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s: simulator has %v, definitions %v", name, g, w)
		}
	}
	same("transfer states", transferStates, contract.TransferStates)
	same("transfer failure codes", transferFailureCodes, contract.TransferFailureCodes)
	same("account states", accountStates, contract.AccountStates)
	same("workflow languages", languages, contract.WorkflowLanguages)
	same("scopes", allScopes, contract.Scopes)
	for _, code := range []string{transferFailRefreshRequired, transferFailInvalidDestination, transferFailPaymentRailInvalid} {
		if !slices.Contains(contract.TransferFailureCodes, code) {
			t.Errorf("the simulator answers the failure code %s, which the platform does not have", code)
		}
	}
}
