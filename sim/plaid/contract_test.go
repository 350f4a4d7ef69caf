package simplaid_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plaid/plaid-go/v20/plaid"

	"github.com/bankconnections/portal/sim/plaid/plaidcontract"
)

// webhookContract collects what the receiver finds in every delivery.
type webhookContract struct {
	mu       sync.Mutex
	problems []string
	checked  int
}

func (w *webhookContract) check(body []byte) {
	p := plaidcontract.CheckWebhook(body)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checked++
	w.problems = append(w.problems, p...)
}

// checkContracts makes the test fail on any answer or webhook of the stand-in
// that plaid-go's definition would not accept.
func checkContracts(t *testing.T, api *plaidcontract.Transport, hooks *webhookContract) {
	t.Helper()
	t.Cleanup(func() {
		for _, p := range api.Problems() {
			t.Errorf("Plaid API contract: %s", p)
		}
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		for _, p := range hooks.problems {
			t.Errorf("Plaid webhook contract: %s", p)
		}
	})
}

// TestStandInConformsToPlaidGo drives every route and fires every webhook
// the stand-in knows; newEnv's checks hold each answer and body to plaid-go's
// models (the test fails at its end on any shortfall).
func TestStandInConformsToPlaidGo(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	api := e.client.PlaidApi

	req := linkTokenRequest()
	req.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
	req.SetWebhook(e.hookURL)
	if _, _, err := api.LinkTokenCreate(ctx).LinkTokenCreateRequest(*req).Execute(); err != nil {
		t.Fatalf("link token create: %v", err)
	}
	access, itemID := e.sandboxItem(t, "ins_109508", "")
	if _, _, err := api.InstitutionsGetById(ctx).InstitutionsGetByIdRequest(*plaid.NewInstitutionsGetByIdRequest("ins_109508", []plaid.CountryCode{plaid.COUNTRYCODE_US})).Execute(); err != nil {
		t.Fatalf("institutions get by id: %v", err)
	}
	if _, _, err := api.AccountsBalanceGet(ctx).AccountsBalanceGetRequest(*plaid.NewAccountsBalanceGetRequest(access)).Execute(); err != nil {
		t.Fatalf("balance: %v", err)
	}
	if _, _, err := api.TransactionsRefresh(ctx).TransactionsRefreshRequest(*plaid.NewTransactionsRefreshRequest(access)).Execute(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	e.nextHook(t) // SYNC_UPDATES_AVAILABLE

	// Every webhook code, each decoded into its model by the receiver.
	for _, code := range plaidcontract.WebhookCodes() {
		_, _, err := api.SandboxItemFireWebhook(ctx).SandboxItemFireWebhookRequest(*plaid.NewSandboxItemFireWebhookRequest(access, code)).Execute()
		if err != nil {
			t.Fatalf("fire %s: %v", code, err)
		}
		d := e.nextHook(t)
		if h := decodeHook(t, d); h["webhook_code"] != code || h["item_id"] != itemID {
			t.Errorf("fired %s: got %v", code, h)
		}
		checkSignature(t, e, d)
	}

	// After PENDING_EXPIRATION the Item reports the end the webhook announced.
	if _, _, err := api.SandboxItemFireWebhook(ctx).SandboxItemFireWebhookRequest(*plaid.NewSandboxItemFireWebhookRequest(access, "PENDING_EXPIRATION")).Execute(); err != nil {
		t.Fatalf("fire PENDING_EXPIRATION: %v", err)
	}
	var warning plaid.PendingExpirationWebhook
	if err := json.Unmarshal(e.nextHook(t).Body, &warning); err != nil {
		t.Fatal(err)
	}
	got, _, err := api.ItemGet(ctx).ItemGetRequest(*plaid.NewItemGetRequest(access)).Execute()
	if err != nil {
		t.Fatalf("item get: %v", err)
	}
	if ends := got.Item.ConsentExpirationTime.Get(); ends == nil || !ends.Equal(warning.ConsentExpirationTime) || !ends.Equal(e.clock.Now().Add(7*24*time.Hour)) {
		t.Errorf("item consent_expiration_time %v, want the webhook's %v, 7 days ahead", ends, warning.ConsentExpirationTime)
	}

	// An Item's error carries the request_id of the call that broke the login.
	if _, _, err := api.SandboxItemFireWebhook(ctx).SandboxItemFireWebhookRequest(*plaid.NewSandboxItemFireWebhookRequest(access, "LOGIN_REPAIRED")).Execute(); err != nil {
		t.Fatalf("repair: %v", err)
	}
	e.nextHook(t) // LOGIN_REPAIRED
	reset, _, err := api.SandboxItemResetLogin(ctx).SandboxItemResetLoginRequest(*plaid.NewSandboxItemResetLoginRequest(access)).Execute()
	if err != nil {
		t.Fatalf("reset login: %v", err)
	}
	e.nextHook(t)            // ITEM ERROR
	for i := 0; i < 2; i++ { // the same id on every read
		got, _, err := api.ItemGet(ctx).ItemGetRequest(*plaid.NewItemGetRequest(access)).Execute()
		if err != nil {
			t.Fatalf("item get: %v", err)
		}
		itemErr := got.Item.Error.Get()
		if itemErr == nil || itemErr.ErrorCode != "ITEM_LOGIN_REQUIRED" || itemErr.GetRequestId() != reset.GetRequestId() || len(reset.GetRequestId()) != 15 {
			t.Fatalf("item error %+v: want ITEM_LOGIN_REQUIRED with the reset call's request_id %q", itemErr, reset.GetRequestId())
		}
	}
	if _, _, err := api.AccountsGet(ctx).AccountsGetRequest(*plaid.NewAccountsGetRequest(access)).Execute(); err != nil {
		t.Fatalf("accounts get: %v", err)
	}
	if _, _, err := api.ItemRemove(ctx).ItemRemoveRequest(*plaid.NewItemRemoveRequest(access)).Execute(); err != nil {
		t.Fatalf("item remove: %v", err)
	}

	for _, route := range plaidcontract.Routes() {
		if !e.api.Answered(route) {
			t.Errorf("%s was never answered with 200: the contract did not check it", route)
		}
	}
}

// Unknown routes and wrong methods are answered in Plaid's error shape.
func TestUnknownRoutesAnswerInPlaidsErrorShape(t *testing.T) {
	e := newEnv(t, -1)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/no/such/endpoint"},
		{http.MethodPost, "/item/get/extra"},
		{http.MethodGet, "/item/get"},
	} {
		req, _ := http.NewRequest(tc.method, e.ts.URL+tc.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: got %d %s, want 404 JSON", tc.method, tc.path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if p := plaidcontract.CheckAnswer(tc.path, res.StatusCode, body); len(p) > 0 {
			t.Errorf("%s %s: %v", tc.method, tc.path, p)
		}
		var pe plaid.PlaidError
		_ = json.Unmarshal(body, &pe)
		if pe.ErrorType != "INVALID_REQUEST" || pe.ErrorCode != "NOT_FOUND" || pe.ErrorMessage == "" {
			t.Errorf("%s %s: got %s/%s %q, want INVALID_REQUEST/NOT_FOUND with a message", tc.method, tc.path, pe.ErrorType, pe.ErrorCode, pe.ErrorMessage)
		}
	}
}
