package plaidgo_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/plaid/plaid-go/v20/plaid"

	"github.com/bankconnections/portal/internal/testutil"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	"github.com/bankconnections/portal/sim/plaid/plaidcontract"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/platform/plaidgo"
)

type delivery struct {
	verification string
	body         []byte
}

type env struct {
	adapter *plaidgo.Adapter
	srv     *simplaid.Server
	url     string
	clock   *testutil.Clock
	hookURL string
	hooks   chan delivery
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: testutil.NewClock(time.Now()), hooks: make(chan delivery, 16)}
	srv, err := simplaid.New(simplaid.Config{Now: e.clock.Now, RefreshDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("simplaid.New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	// Every answer the adapter gets and every webhook the stand-in sends is
	// held to plaid-go's models.
	api := &plaidcontract.Transport{}
	var hookMu sync.Mutex
	var hookProblems []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookProblems = append(hookProblems, plaidcontract.CheckWebhook(body)...)
		hookMu.Unlock()
		e.hooks <- delivery{verification: r.Header.Get("Plaid-Verification"), body: body}
	}))
	t.Cleanup(func() {
		for _, p := range api.Problems() {
			t.Errorf("Plaid API contract: %s", p)
		}
		hookMu.Lock()
		defer hookMu.Unlock()
		for _, p := range hookProblems {
			t.Errorf("Plaid webhook contract: %s", p)
		}
	})
	t.Cleanup(func() { ts.Close(); srv.Close(); recv.Close() })
	e.srv, e.url, e.hookURL = srv, ts.URL, recv.URL
	e.adapter, err = plaidgo.New(plaidgo.Config{ClientID: srv.ClientID(), Secret: srv.Secret(), BaseURL: ts.URL,
		HTTPClient: &http.Client{Transport: api, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatalf("plaidgo.New: %v", err)
	}
	return e
}

// publicToken makes an Item in the stand-in's sandbox (the adapter has no
// sandbox item creation: Link does that).
func (e *env) publicToken(t *testing.T, institutionID, username string) string {
	t.Helper()
	cfg := plaid.NewConfiguration()
	cfg.AddDefaultHeader("PLAID-CLIENT-ID", e.srv.ClientID())
	cfg.AddDefaultHeader("PLAID-SECRET", e.srv.Secret())
	cfg.UseEnvironment(plaid.Environment(e.url))
	req := plaid.NewSandboxPublicTokenCreateRequest(institutionID, []plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
	opts := plaid.NewSandboxPublicTokenCreateRequestOptions()
	opts.SetWebhook(e.hookURL)
	if username != "" {
		opts.SetOverrideUsername(username)
	}
	req.SetOptions(*opts)
	resp, _, err := plaid.NewAPIClient(cfg).PlaidApi.SandboxPublicTokenCreate(context.Background()).SandboxPublicTokenCreateRequest(*req).Execute()
	if err != nil {
		t.Fatalf("sandbox public token: %v", err)
	}
	return resp.GetPublicToken()
}

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

func wantPlaidError(t *testing.T, err error, wantType, wantCode string) {
	t.Helper()
	var pe *simplatform.PlaidError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *simplatform.PlaidError %s", err, err, wantCode)
	}
	if pe.Type != wantType || pe.Code != wantCode || pe.Message == "" || pe.RequestID == "" {
		t.Fatalf("PlaidError = %+v, want %s/%s with message and request id", pe, wantType, wantCode)
	}
}

func TestAdapterLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	lt, err := e.adapter.CreateLinkToken(ctx, simplatform.LinkTokenRequest{
		ClientUserID: "cust-1", ClientName: "Portal", Language: "en",
		RedirectURI: "https://portal.example/oauth", Webhook: e.hookURL,
	})
	if err != nil {
		t.Fatalf("CreateLinkToken: %v", err)
	}
	if !strings.HasPrefix(lt.Token, "link-sandbox-") || time.Until(lt.Expiration) < 3*time.Hour {
		t.Errorf("link token = %+v, want link-sandbox-… valid ~4h", lt)
	}

	access, err := e.adapter.ExchangePublicToken(ctx, e.publicToken(t, "ins_109508", "user_all_accounts"))
	if err != nil {
		t.Fatalf("ExchangePublicToken: %v", err)
	}
	item, accounts, err := e.adapter.Accounts(ctx, access.AccessToken)
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	if item.ItemID != access.ItemID || item.InstitutionID != "ins_109508" || item.InstitutionName != "First Platypus Bank" {
		t.Errorf("item = %+v, want %s at First Platypus Bank", item, access.ItemID)
	}
	if len(accounts) != 2 || accounts[0].Subtype != "checking" || accounts[1].Subtype != "savings" || accounts[0].Mask == "" || accounts[0].Type != "depository" {
		t.Errorf("accounts = %+v, want checking and savings with masks", accounts)
	}
	balances, err := e.adapter.Balances(ctx, access.AccessToken)
	if err != nil {
		t.Fatalf("Balances: %v", err)
	}
	if b := balances[accounts[0].AccountID]; b.Current == nil || *b.Current != 11000 || b.Available == nil || *b.Available != 10000 {
		t.Errorf("checking balance = %+v, want current 11000 available 10000 cents", b)
	}

	upd, err := e.adapter.CreateLinkToken(ctx, simplatform.LinkTokenRequest{ClientUserID: "cust-1", AccessToken: access.AccessToken, AccountSelection: true})
	if err != nil {
		t.Fatalf("CreateLinkToken update: %v", err)
	}
	if d := time.Until(upd.Expiration); d > 31*time.Minute || d < 29*time.Minute {
		t.Errorf("update token expires in %v, want 30m", d)
	}

	if err := e.adapter.RefreshTransactions(ctx, access.AccessToken); err != nil {
		t.Fatalf("RefreshTransactions: %v", err)
	}
	if err := e.adapter.ResetLogin(ctx, access.AccessToken); err != nil {
		t.Fatalf("ResetLogin: %v", err)
	}
	wantPlaidError(t, e.adapter.RefreshTransactions(ctx, access.AccessToken), "ITEM_ERROR", "ITEM_LOGIN_REQUIRED")
	_, err = e.adapter.Balances(ctx, access.AccessToken)
	wantPlaidError(t, err, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED")

	if err := e.adapter.RemoveItem(ctx, access.AccessToken); err != nil {
		t.Fatalf("RemoveItem: %v", err)
	}
	_, _, err = e.adapter.Accounts(ctx, access.AccessToken)
	wantPlaidError(t, err, "INVALID_INPUT", "INVALID_ACCESS_TOKEN")

	_, err = e.adapter.ExchangePublicToken(ctx, "public-sandbox-nope")
	wantPlaidError(t, err, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN")

	capOne, err := e.adapter.ExchangePublicToken(ctx, e.publicToken(t, "ins_128026", ""))
	if err != nil {
		t.Fatalf("ExchangePublicToken: %v", err)
	}
	wantPlaidError(t, e.adapter.RefreshTransactions(ctx, capOne.AccessToken), "ITEM_ERROR", "PRODUCTS_NOT_SUPPORTED")
}

func TestAdapterInvalidKeys(t *testing.T) {
	e := newEnv(t)
	bad, err := plaidgo.New(plaidgo.Config{ClientID: e.srv.ClientID(), Secret: "wrong", BaseURL: e.url})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = bad.CreateLinkToken(context.Background(), simplatform.LinkTokenRequest{ClientUserID: "u"})
	wantPlaidError(t, err, "INVALID_INPUT", "INVALID_API_KEYS")
}

func TestVerifyWebhook(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	access, err := e.adapter.ExchangePublicToken(ctx, e.publicToken(t, "ins_109508", ""))
	if err != nil {
		t.Fatalf("ExchangePublicToken: %v", err)
	}
	if err := e.adapter.ResetLogin(ctx, access.AccessToken); err != nil {
		t.Fatalf("ResetLogin: %v", err)
	}
	d := e.nextHook(t)

	wh, err := e.adapter.VerifyWebhook(ctx, d.verification, d.body)
	if err != nil {
		t.Fatalf("VerifyWebhook(valid): %v", err)
	}
	sum := sha256.Sum256(d.body)
	want := simplatform.Webhook{WebhookType: "ITEM", WebhookCode: "ERROR", ItemID: access.ItemID, ErrorCode: "ITEM_LOGIN_REQUIRED", ID: hex.EncodeToString(sum[:])}
	if wh != want {
		t.Errorf("webhook = %+v, want %+v", wh, want)
	}
	again, err := e.adapter.VerifyWebhook(ctx, d.verification, d.body)
	if err != nil || again.ID != wh.ID {
		t.Errorf("second verification of the same delivery = %+v, %v; want the same ID %s", again, err, wh.ID)
	}

	// A webhook signed 6 minutes ago.
	e.clock.Set(time.Now().Add(-6 * time.Minute))
	if err := e.adapter.ResetLogin(ctx, access.AccessToken); err != nil {
		t.Fatalf("ResetLogin: %v", err)
	}
	stale := e.nextHook(t)
	e.clock.Set(time.Now())

	// A well-formed token from a key Plaid never published.
	strange, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	unknown := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iat": time.Now().Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	unknown.Header["kid"] = "kid-nobody-published"
	unknownSig, _ := unknown.SignedString(strange)

	// Same kid as the real key but HMAC-signed.
	parsed, _, _ := jwt.NewParser().ParseUnverified(d.verification, jwt.MapClaims{})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iat": time.Now().Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	hs.Header["kid"] = parsed.Header["kid"]
	hsSig, _ := hs.SignedString([]byte("secret"))

	// The real key's kid, but signed by another key.
	forged := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iat": time.Now().Unix(), "request_body_sha256": hex.EncodeToString(sum[:])})
	forged.Header["kid"] = parsed.Header["kid"]
	forgedSig, _ := forged.SignedString(strange)

	tampered := []byte(strings.Replace(string(d.body), access.ItemID, "someone-else", 1))
	cases := []struct {
		name   string
		header string
		body   []byte
	}{
		{"missing header", "", d.body},
		{"tampered body", d.verification, tampered},
		{"stale iat", stale.verification, stale.body},
		{"unknown kid", unknownSig, d.body},
		{"wrong alg", hsSig, d.body},
		{"forged signature", forgedSig, d.body},
		{"garbage header", "not-a-jwt", d.body},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.adapter.VerifyWebhook(ctx, tc.header, tc.body)
			if !errors.Is(err, plaidgo.ErrWebhookRejected) {
				t.Errorf("err = %v, want ErrWebhookRejected", err)
			}
		})
	}
}
