package simplaid_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plaid/plaid-go/v20/plaid"

	"github.com/bankconnections/portal/internal/testutil"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	"github.com/bankconnections/portal/sim/plaid/plaidcontract"
)

// delivery is one webhook as the receiver saw it.
type delivery struct {
	Verification string
	Body         []byte
}

type env struct {
	srv    *simplaid.Server
	ts     *httptest.Server
	clock  *testutil.Clock
	client *plaid.APIClient
	// hookURL receives webhooks into hooks.
	hookURL string
	hooks   chan delivery
	// api and hookContract check every answer and webhook against plaid-go's models.
	api          *plaidcontract.Transport
	hookContract *webhookContract
}

// newEnv starts the stand-in, a webhook receiver and a plaid-go client that
// sends the stand-in's keys.
func newEnv(t *testing.T, refreshDelay time.Duration) *env {
	t.Helper()
	e := &env{clock: testutil.NewClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)), hooks: make(chan delivery, 16),
		api: &plaidcontract.Transport{}, hookContract: &webhookContract{}}
	srv, err := simplaid.New(simplaid.Config{Now: e.clock.Now, RefreshDelay: refreshDelay})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.hookContract.check(body)
		e.hooks <- delivery{Verification: r.Header.Get("Plaid-Verification"), Body: body}
	}))
	e.hookURL = recv.URL + "/plaid/webhook"
	// Registered first, so it runs last: after every delivery has ended.
	checkContracts(t, e.api, e.hookContract)
	t.Cleanup(func() {
		e.ts.Close()
		srv.Close()
		recv.Close()
	})
	e.client = newClient(e.ts.URL, srv.ClientID(), srv.Secret())
	e.client.GetConfig().HTTPClient = &http.Client{Transport: e.api}
	return e
}

func newClient(baseURL, clientID, secret string) *plaid.APIClient {
	cfg := plaid.NewConfiguration()
	cfg.AddDefaultHeader("PLAID-CLIENT-ID", clientID)
	cfg.AddDefaultHeader("PLAID-SECRET", secret)
	cfg.UseEnvironment(plaid.Environment(baseURL))
	return plaid.NewAPIClient(cfg)
}

// plaidErr asserts err carries Plaid's error object with that type and code.
func plaidErr(t *testing.T, err error, wantType, wantCode string) plaid.PlaidError {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s", wantCode)
	}
	pe, perr := plaid.ToPlaidError(err)
	if perr != nil {
		t.Fatalf("ToPlaidError(%v): %v", err, perr)
	}
	if string(pe.ErrorType) != wantType || pe.ErrorCode != wantCode {
		t.Fatalf("error = %s/%s (%s), want %s/%s", pe.ErrorType, pe.ErrorCode, pe.ErrorMessage, wantType, wantCode)
	}
	if pe.ErrorMessage == "" || pe.GetRequestId() == "" {
		t.Fatalf("error_message %q, request_id %q: want both set", pe.ErrorMessage, pe.GetRequestId())
	}
	return pe
}

// sandboxItem creates an Item through /sandbox/public_token/create and
// exchanges its public token.
func (e *env) sandboxItem(t *testing.T, institutionID, username string) (accessToken, itemID string) {
	t.Helper()
	ctx := context.Background()
	req := plaid.NewSandboxPublicTokenCreateRequest(institutionID, []plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
	opts := plaid.NewSandboxPublicTokenCreateRequestOptions()
	opts.SetWebhook(e.hookURL)
	if username != "" {
		opts.SetOverrideUsername(username)
	}
	req.SetOptions(*opts)
	pt, _, err := e.client.PlaidApi.SandboxPublicTokenCreate(ctx).SandboxPublicTokenCreateRequest(*req).Execute()
	if err != nil {
		t.Fatalf("sandbox public token create: %v", err)
	}
	ex, _, err := e.client.PlaidApi.ItemPublicTokenExchange(ctx).
		ItemPublicTokenExchangeRequest(*plaid.NewItemPublicTokenExchangeRequest(pt.GetPublicToken())).Execute()
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return ex.GetAccessToken(), ex.GetItemId()
}

// nextHook waits for one webhook delivery.
func (e *env) nextHook(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-e.hooks:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook within 5s")
		return delivery{}
	}
}
