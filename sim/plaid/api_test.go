package simplaid_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/plaid/plaid-go/v20/plaid"
)

func linkTokenRequest() *plaid.LinkTokenCreateRequest {
	return plaid.NewLinkTokenCreateRequest("Portal", "en", []plaid.CountryCode{plaid.COUNTRYCODE_US},
		*plaid.NewLinkTokenCreateRequestUser("user-1"))
}

func TestInvalidAPIKeys(t *testing.T) {
	e := newEnv(t, -1)
	for name, c := range map[string]*plaid.APIClient{
		"wrong secret":    newClient(e.ts.URL, e.srv.ClientID(), "nope"),
		"wrong client id": newClient(e.ts.URL, "nope", e.srv.Secret()),
	} {
		t.Run(name, func(t *testing.T) {
			req := linkTokenRequest()
			req.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
			_, resp, err := c.PlaidApi.LinkTokenCreate(context.Background()).LinkTokenCreateRequest(*req).Execute()
			plaidErr(t, err, "INVALID_INPUT", "INVALID_API_KEYS")
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", resp.StatusCode)
			}
		})
	}
}

func TestLinkTokenCreate(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	access, _ := e.sandboxItem(t, "ins_109508", "")

	t.Run("create mode lives 4 hours", func(t *testing.T) {
		req := linkTokenRequest()
		req.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
		req.SetRedirectUri("https://portal.example/oauth-return")
		req.SetWebhook(e.hookURL)
		resp, _, err := e.client.PlaidApi.LinkTokenCreate(ctx).LinkTokenCreateRequest(*req).Execute()
		if err != nil {
			t.Fatalf("LinkTokenCreate: %v", err)
		}
		tok := resp.GetLinkToken()
		if _, err := uuid.Parse(strings.TrimPrefix(tok, "link-sandbox-")); !strings.HasPrefix(tok, "link-sandbox-") || err != nil {
			t.Errorf("link_token = %q, want link-sandbox-<uuid>", tok)
		}
		if got, want := resp.GetExpiration(), e.clock.Now().Add(4*time.Hour); !got.Equal(want) {
			t.Errorf("expiration = %v, want %v", got, want)
		}
		if resp.GetRequestId() == "" {
			t.Error("request_id is empty")
		}
	})
	t.Run("update mode lives 30 minutes", func(t *testing.T) {
		req := linkTokenRequest()
		req.SetAccessToken(access)
		upd := plaid.NewLinkTokenCreateRequestUpdate()
		upd.SetAccountSelectionEnabled(true)
		req.SetUpdate(*upd)
		resp, _, err := e.client.PlaidApi.LinkTokenCreate(ctx).LinkTokenCreateRequest(*req).Execute()
		if err != nil {
			t.Fatalf("LinkTokenCreate: %v", err)
		}
		if got, want := resp.GetExpiration(), e.clock.Now().Add(30*time.Minute); !got.Equal(want) {
			t.Errorf("expiration = %v, want %v", got, want)
		}
	})
	errCases := []struct {
		name     string
		mutate   func(*plaid.LinkTokenCreateRequest)
		wantType string
		wantCode string
	}{
		{"create mode without products", func(r *plaid.LinkTokenCreateRequest) {}, "INVALID_REQUEST", "MISSING_FIELDS"},
		{"update mode with products", func(r *plaid.LinkTokenCreateRequest) {
			r.SetAccessToken(access)
			r.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
		}, "INVALID_REQUEST", "INVALID_FIELD"},
		{"unknown access token", func(r *plaid.LinkTokenCreateRequest) { r.SetAccessToken("access-sandbox-nope") }, "INVALID_INPUT", "INVALID_ACCESS_TOKEN"},
		{"redirect uri with query", func(r *plaid.LinkTokenCreateRequest) {
			r.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
			r.SetRedirectUri("https://portal.example/back?x=1")
		}, "INVALID_REQUEST", "INVALID_FIELD"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			req := linkTokenRequest()
			tc.mutate(req)
			_, _, err := e.client.PlaidApi.LinkTokenCreate(ctx).LinkTokenCreateRequest(*req).Execute()
			plaidErr(t, err, tc.wantType, tc.wantCode)
		})
	}
}

func TestPublicTokenExchange(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	create := func() string {
		req := plaid.NewSandboxPublicTokenCreateRequest("ins_109508", []plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
		pt, _, err := e.client.PlaidApi.SandboxPublicTokenCreate(ctx).SandboxPublicTokenCreateRequest(*req).Execute()
		if err != nil {
			t.Fatalf("sandbox public token create: %v", err)
		}
		return pt.GetPublicToken()
	}
	exchange := func(tok string) (plaid.ItemPublicTokenExchangeResponse, error) {
		resp, _, err := e.client.PlaidApi.ItemPublicTokenExchange(ctx).
			ItemPublicTokenExchangeRequest(*plaid.NewItemPublicTokenExchangeRequest(tok)).Execute()
		return resp, err
	}

	tok := create()
	resp, err := exchange(tok)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if !strings.HasPrefix(resp.GetAccessToken(), "access-sandbox-") || resp.GetItemId() == "" {
		t.Errorf("exchange = %+v, want access-sandbox-… and an item id", resp)
	}
	t.Run("single use", func(t *testing.T) {
		_, err := exchange(tok)
		plaidErr(t, err, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN")
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := exchange("public-sandbox-nope")
		plaidErr(t, err, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN")
	})
	t.Run("expires after 30 minutes", func(t *testing.T) {
		fresh := create()
		e.clock.Advance(30*time.Minute + time.Second)
		_, err := exchange(fresh)
		pe := plaidErr(t, err, "INVALID_INPUT", "INVALID_PUBLIC_TOKEN")
		if !strings.Contains(pe.ErrorMessage, "expired") {
			t.Errorf("error_message = %q, want it to say expired", pe.ErrorMessage)
		}
	})
}

func TestSandboxItemsAndAccounts(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	cases := []struct {
		institution, username string
		wantMasks             []string
	}{
		{"ins_109508", "", []string{"0000"}},
		{"ins_109508", "user_all_accounts", []string{"0000", "1111"}},
		{"ins_128026", "user_all_accounts", []string{"4821", "9034"}},
	}
	for _, tc := range cases {
		t.Run(tc.institution+"/"+tc.username, func(t *testing.T) {
			access, itemID := e.sandboxItem(t, tc.institution, tc.username)
			resp, _, err := e.client.PlaidApi.AccountsGet(ctx).AccountsGetRequest(*plaid.NewAccountsGetRequest(access)).Execute()
			if err != nil {
				t.Fatalf("accounts get: %v", err)
			}
			var masks []string
			for _, a := range resp.GetAccounts() {
				masks = append(masks, a.GetMask())
				if a.GetAccountId() == "" || a.GetName() == "" {
					t.Errorf("account %+v lacks id or name", a)
				}
			}
			if strings.Join(masks, ",") != strings.Join(tc.wantMasks, ",") {
				t.Errorf("masks = %v, want %v", masks, tc.wantMasks)
			}
			item := resp.GetItem()
			if item.GetItemId() != itemID || item.GetInstitutionId() != tc.institution {
				t.Errorf("item = %s at %s, want %s at %s", item.GetItemId(), item.GetInstitutionId(), itemID, tc.institution)
			}
			got, _, err := e.client.PlaidApi.ItemGet(ctx).ItemGetRequest(*plaid.NewItemGetRequest(access)).Execute()
			if err != nil {
				t.Fatalf("item get: %v", err)
			}
			if got.Item.GetWebhook() != e.hookURL || got.Item.Error.IsSet() && got.Item.Error.Get() != nil {
				t.Errorf("item = %+v, want webhook %s and no error", got.Item, e.hookURL)
			}
		})
	}
	t.Run("depository accounts", func(t *testing.T) {
		access, _ := e.sandboxItem(t, "ins_109508", "user_all_accounts")
		resp, _, err := e.client.PlaidApi.AccountsBalanceGet(ctx).AccountsBalanceGetRequest(*plaid.NewAccountsBalanceGetRequest(access)).Execute()
		if err != nil {
			t.Fatalf("balance get: %v", err)
		}
		var subtypes []string
		for _, a := range resp.GetAccounts() {
			subtypes = append(subtypes, string(a.GetType())+"/"+string(a.GetSubtype()))
			if a.Balances.GetCurrent() == 0 {
				t.Errorf("account %s has no current balance", a.GetName())
			}
		}
		if want := "depository/checking,depository/savings"; strings.Join(subtypes, ",") != want {
			t.Errorf("accounts = %v, want %s", subtypes, want)
		}
	})
	t.Run("unknown institution", func(t *testing.T) {
		req := plaid.NewSandboxPublicTokenCreateRequest("ins_nope", []plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
		_, _, err := e.client.PlaidApi.SandboxPublicTokenCreate(ctx).SandboxPublicTokenCreateRequest(*req).Execute()
		plaidErr(t, err, "INVALID_INPUT", "INVALID_INSTITUTION")
	})
	t.Run("institution by id", func(t *testing.T) {
		resp, _, err := e.client.PlaidApi.InstitutionsGetById(ctx).InstitutionsGetByIdRequest(
			*plaid.NewInstitutionsGetByIdRequest("ins_127287", []plaid.CountryCode{plaid.COUNTRYCODE_US})).Execute()
		if err != nil {
			t.Fatalf("institutions get by id: %v", err)
		}
		if inst := resp.GetInstitution(); inst.GetName() != "Platypus OAuth Bank" || !inst.GetOauth() {
			t.Errorf("institution = %s oauth=%v, want Platypus OAuth Bank oauth=true", inst.GetName(), inst.GetOauth())
		}
	})
}

func TestResetLoginAndRefresh(t *testing.T) {
	e := newEnv(t, 20*time.Millisecond)
	ctx := context.Background()
	refresh := func(access string) error {
		_, _, err := e.client.PlaidApi.TransactionsRefresh(ctx).TransactionsRefreshRequest(*plaid.NewTransactionsRefreshRequest(access)).Execute()
		return err
	}

	access, itemID := e.sandboxItem(t, "ins_109508", "")
	if err := refresh(access); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	hook := decodeHook(t, e.nextHook(t))
	if hook["webhook_type"] != "TRANSACTIONS" || hook["webhook_code"] != "SYNC_UPDATES_AVAILABLE" || hook["item_id"] != itemID {
		t.Errorf("webhook = %v, want TRANSACTIONS/SYNC_UPDATES_AVAILABLE for %s", hook, itemID)
	}

	resp, _, err := e.client.PlaidApi.SandboxItemResetLogin(ctx).SandboxItemResetLoginRequest(*plaid.NewSandboxItemResetLoginRequest(access)).Execute()
	if err != nil || !resp.GetResetLogin() {
		t.Fatalf("reset login = %v, %v", resp.GetResetLogin(), err)
	}
	d := e.nextHook(t)
	hook = decodeHook(t, d)
	errObj, _ := hook["error"].(map[string]any)
	if hook["webhook_type"] != "ITEM" || hook["webhook_code"] != "ERROR" || errObj["error_code"] != "ITEM_LOGIN_REQUIRED" || hook["environment"] != "sandbox" {
		t.Errorf("webhook = %v, want ITEM/ERROR ITEM_LOGIN_REQUIRED in sandbox", hook)
	}
	checkSignature(t, e, d)

	plaidErr(t, refresh(access), "ITEM_ERROR", "ITEM_LOGIN_REQUIRED")
	_, _, err = e.client.PlaidApi.AccountsBalanceGet(ctx).AccountsBalanceGetRequest(*plaid.NewAccountsBalanceGetRequest(access)).Execute()
	plaidErr(t, err, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED")
	item, _, err := e.client.PlaidApi.ItemGet(ctx).ItemGetRequest(*plaid.NewItemGetRequest(access)).Execute()
	if err != nil {
		t.Fatalf("item get: %v", err)
	}
	if ie := item.Item.Error.Get(); ie == nil || ie.ErrorCode != "ITEM_LOGIN_REQUIRED" {
		t.Errorf("item.error = %+v, want ITEM_LOGIN_REQUIRED", ie)
	}

	t.Run("capital one credit cards", func(t *testing.T) {
		for _, user := range []string{"", "user_all_accounts"} {
			access, _ := e.sandboxItem(t, "ins_128026", user)
			plaidErr(t, refresh(access), "ITEM_ERROR", "PRODUCTS_NOT_SUPPORTED")
		}
	})
	t.Run("honours the caller's context", func(t *testing.T) {
		slow := newEnv(t, time.Hour)
		access, _ := slow.sandboxItem(t, "ins_109508", "")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		// The stand-in's refresh takes an hour here: only honouring ctx ends it.
		_, _, err := slow.client.PlaidApi.TransactionsRefresh(ctx).TransactionsRefreshRequest(*plaid.NewTransactionsRefreshRequest(access)).Execute()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestFireWebhookAndRemove(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	access, itemID := e.sandboxItem(t, "ins_109508", "")
	fire := func(code string) error {
		req := plaid.NewSandboxItemFireWebhookRequest(access, code)
		_, _, err := e.client.PlaidApi.SandboxItemFireWebhook(ctx).SandboxItemFireWebhookRequest(*req).Execute()
		return err
	}
	for _, tc := range []struct{ code, typ string }{
		{"NEW_ACCOUNTS_AVAILABLE", "ITEM"},
		{"PENDING_EXPIRATION", "ITEM"},
		{"DEFAULT_UPDATE", "TRANSACTIONS"},
	} {
		if err := fire(tc.code); err != nil {
			t.Fatalf("fire %s: %v", tc.code, err)
		}
		hook := decodeHook(t, e.nextHook(t))
		if hook["webhook_type"] != tc.typ || hook["webhook_code"] != tc.code || hook["item_id"] != itemID {
			t.Errorf("webhook = %v, want %s/%s", hook, tc.typ, tc.code)
		}
	}
	plaidErr(t, fire("NOT_A_CODE"), "INVALID_REQUEST", "INVALID_FIELD")

	if _, _, err := e.client.PlaidApi.ItemRemove(ctx).ItemRemoveRequest(*plaid.NewItemRemoveRequest(access)).Execute(); err != nil {
		t.Fatalf("item remove: %v", err)
	}
	_, _, err := e.client.PlaidApi.AccountsGet(ctx).AccountsGetRequest(*plaid.NewAccountsGetRequest(access)).Execute()
	plaidErr(t, err, "INVALID_INPUT", "INVALID_ACCESS_TOKEN")
}

func decodeHook(t *testing.T, d delivery) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(d.Body, &m); err != nil {
		t.Fatalf("webhook body %q: %v", d.Body, err)
	}
	return m
}

// checkSignature verifies a delivery against the key plaid-go fetches.
func checkSignature(t *testing.T, e *env, d delivery) {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(d.Verification, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("Plaid-Verification %q: %v", d.Verification, err)
	}
	kid, _ := parsed.Header["kid"].(string)
	if parsed.Method.Alg() != "ES256" || kid == "" {
		t.Fatalf("JWT alg %s kid %q, want ES256 and a kid", parsed.Method.Alg(), kid)
	}
	resp, _, err := e.client.PlaidApi.WebhookVerificationKeyGet(context.Background()).
		WebhookVerificationKeyGetRequest(*plaid.NewWebhookVerificationKeyGetRequest(kid)).Execute()
	if err != nil {
		t.Fatalf("webhook verification key get: %v", err)
	}
	key := resp.GetKey()
	if key.GetKid() != kid || key.GetAlg() != "ES256" || key.GetCrv() != "P-256" || key.GetKty() != "EC" || key.GetUse() != "sig" || key.GetCreatedAt() == 0 || key.ExpiredAt.Get() != nil {
		t.Errorf("key = %+v, want an unexpired EC P-256 ES256 signing key %s", key, kid)
	}
	claims := parsed.Claims.(jwt.MapClaims)
	sum := sha256.Sum256(d.Body)
	if claims["request_body_sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("request_body_sha256 = %v, want the body's hash", claims["request_body_sha256"])
	}
	if iat, _ := claims["iat"].(float64); int64(iat) != e.clock.Now().Unix() {
		t.Errorf("iat = %v, want %d", claims["iat"], e.clock.Now().Unix())
	}
	_, _, err = e.client.PlaidApi.WebhookVerificationKeyGet(context.Background()).
		WebhookVerificationKeyGetRequest(*plaid.NewWebhookVerificationKeyGetRequest("nope")).Execute()
	plaidErr(t, err, "INVALID_REQUEST", "INVALID_FIELD")
}

// linkOpen calls the iframe UI's open endpoint (not part of Plaid's API).
func linkOpen(t *testing.T, e *env, token string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	resp, err := http.Post(e.ts.URL+"/link/api/open", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}

func TestLinkTokenExpiry(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	access, _ := e.sandboxItem(t, "ins_109508", "")
	create := func(update bool) string {
		req := linkTokenRequest()
		if update {
			req.SetAccessToken(access)
		} else {
			req.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
		}
		resp, _, err := e.client.PlaidApi.LinkTokenCreate(ctx).LinkTokenCreateRequest(*req).Execute()
		if err != nil {
			t.Fatalf("LinkTokenCreate: %v", err)
		}
		return resp.GetLinkToken()
	}
	createTok, updateTok := create(false), create(true)
	code := func(m map[string]any) any {
		errObj, _ := m["error"].(map[string]any)
		return errObj["error_code"]
	}
	steps := []struct {
		advance            time.Duration
		wantCreate, wantUp any
	}{
		{0, nil, nil},
		{30*time.Minute + time.Second, nil, "INVALID_LINK_TOKEN"},
		{3*time.Hour + 30*time.Minute, "INVALID_LINK_TOKEN", "INVALID_LINK_TOKEN"},
	}
	for _, s := range steps {
		e.clock.Advance(s.advance)
		if got := code(linkOpen(t, e, createTok)); got != s.wantCreate {
			t.Errorf("after %v: create-mode open error = %v, want %v", s.advance, got, s.wantCreate)
		}
		if got := code(linkOpen(t, e, updateTok)); got != s.wantUp {
			t.Errorf("after %v: update-mode open error = %v, want %v", s.advance, got, s.wantUp)
		}
	}
	if got := code(linkOpen(t, e, "link-sandbox-"+uuid.NewString())); got != "INVALID_LINK_TOKEN" {
		t.Errorf("unknown token: error = %v, want INVALID_LINK_TOKEN", got)
	}
}
