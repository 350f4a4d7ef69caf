package simplaid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/plaid/plaid-go/v20/plaid"
)

// The stand-in is held to Plaid's own definition as plaid-go v20.1.0 (Plaid
// API version 2020-09-14_1.485.0, pinned in go.mod) generates it: every API
// answer and every webhook body must decode into plaid-go's model with every
// property the model marks required present (a JSON tag without omitempty),
// non-null unless the model's type is Nullable, and every enum value one the
// model knows. plaid-go v20's UnmarshalJSON does not check required
// properties itself (it only collects additional ones), so checkModel does.
//
// PENDING_DISCONNECT has no model in plaid-go v20.1.0; pendingDisconnect
// below pins the fields Plaid's OpenAPI definition gives it (the same as the
// PendingDisconnectWebhook of Plaid's generated clients): webhook_type,
// webhook_code, item_id, reason (INSTITUTION_MIGRATION or
// INSTITUTION_TOKEN_EXPIRATION) and environment, all required.

type pendingDisconnect struct {
	WebhookType string                         `json:"webhook_type"`
	WebhookCode string                         `json:"webhook_code"`
	ItemId      string                         `json:"item_id"`
	Reason      pendingDisconnectReason        `json:"reason"`
	Environment plaid.WebhookEnvironmentValues `json:"environment"`
}

type pendingDisconnectReason string

func (r pendingDisconnectReason) IsValid() bool {
	return r == "INSTITUTION_MIGRATION" || r == "INSTITUTION_TOKEN_EXPIRATION"
}

// webhookModels gives each webhook code the plaid-go model of its body.
var webhookModels = map[string]func() any{
	"ERROR":                       func() any { return &plaid.ItemErrorWebhook{} },
	"PENDING_EXPIRATION":          func() any { return &plaid.PendingExpirationWebhook{} },
	"PENDING_DISCONNECT":          func() any { return &pendingDisconnect{} },
	"NEW_ACCOUNTS_AVAILABLE":      func() any { return &plaid.NewAccountsAvailableWebhook{} },
	"LOGIN_REPAIRED":              func() any { return &plaid.ItemLoginRepairedWebhook{} },
	"USER_PERMISSION_REVOKED":     func() any { return &plaid.UserPermissionRevokedWebhook{} },
	"WEBHOOK_UPDATE_ACKNOWLEDGED": func() any { return &plaid.WebhookUpdateAcknowledgedWebhook{} },
	"SYNC_UPDATES_AVAILABLE":      func() any { return &plaid.SyncUpdatesAvailableWebhook{} },
	"DEFAULT_UPDATE":              func() any { return &plaid.DefaultUpdateWebhook{} },
	"INITIAL_UPDATE":              func() any { return &plaid.InitialUpdateWebhook{} },
	"HISTORICAL_UPDATE":           func() any { return &plaid.HistoricalUpdateWebhook{} },
	"TRANSACTIONS_REMOVED":        func() any { return &plaid.TransactionsRemovedWebhook{} },
}

// responseModels gives each API route the plaid-go model of its answer.
var responseModels = map[string]func() any{
	"/link/token/create":            func() any { return &plaid.LinkTokenCreateResponse{} },
	"/item/public_token/exchange":   func() any { return &plaid.ItemPublicTokenExchangeResponse{} },
	"/item/get":                     func() any { return &plaid.ItemGetResponse{} },
	"/accounts/get":                 func() any { return &plaid.AccountsGetResponse{} },
	"/accounts/balance/get":         func() any { return &plaid.AccountsGetResponse{} },
	"/item/remove":                  func() any { return &plaid.ItemRemoveResponse{} },
	"/transactions/refresh":         func() any { return &plaid.TransactionsRefreshResponse{} },
	"/institutions/get_by_id":       func() any { return &plaid.InstitutionsGetByIdResponse{} },
	"/sandbox/item/reset_login":     func() any { return &plaid.SandboxItemResetLoginResponse{} },
	"/sandbox/item/fire_webhook":    func() any { return &plaid.SandboxItemFireWebhookResponse{} },
	"/sandbox/public_token/create":  func() any { return &plaid.SandboxPublicTokenCreateResponse{} },
	"/webhook_verification_key/get": func() any { return &plaid.WebhookVerificationKeyGetResponse{} },
}

// checkModel decodes body into model and returns every way it falls short
// of the model's definition.
func checkModel(body []byte, model any) []string {
	if err := json.Unmarshal(body, model); err != nil {
		return []string{fmt.Sprintf("does not decode into %T: %v", model, err)}
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	checkValue(raw, reflect.TypeOf(model).Elem(), "", &problems)
	return problems
}

// nullableElem returns the type a plaid-go Nullable wrapper holds.
func nullableElem(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct || !strings.HasPrefix(t.Name(), "Nullable") {
		return nil, false
	}
	m, ok := reflect.PointerTo(t).MethodByName("Get")
	if !ok || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Pointer {
		return nil, false
	}
	return m.Type.Out(0).Elem(), true
}

func checkValue(v any, t reflect.Type, path string, problems *[]string) {
	if v == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if inner, ok := nullableElem(t); ok {
		t = inner
	}
	if _, isEnum := reflect.New(t).Elem().Interface().(interface{ IsValid() bool }); isEnum && t.Kind() == reflect.String {
		if s, isString := v.(string); isString {
			e := reflect.New(t).Elem()
			e.SetString(s)
			if !e.Interface().(interface{ IsValid() bool }).IsValid() {
				*problems = append(*problems, fmt.Sprintf("%s: %q is not a value of %s", path, s, t.Name()))
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		if items, ok := v.([]any); ok {
			for i, it := range items {
				checkValue(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
			}
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok || t.PkgPath() == "time" {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			val, present := obj[name]
			required := !strings.Contains(opts, "omitempty")
			_, nullable := nullableElem(f.Type)
			nullable = nullable || f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Interface
			switch {
			case required && !present:
				*problems = append(*problems, fmt.Sprintf("%s%s: required by %s, missing", path, name, t.Name()))
			case required && val == nil && !nullable:
				*problems = append(*problems, fmt.Sprintf("%s%s: required by %s, null", path, name, t.Name()))
			case present:
				checkValue(val, f.Type, path+name+".", problems)
			}
		}
	}
}

// contractTransport checks every answer the stand-in gives plaid-go: a
// success against the route's response model, an error against PlaidError
// with its request_id and an HTTP status of Plaid's.
type contractTransport struct {
	mu       sync.Mutex
	problems []string
	routes   map[string]bool // every route answered with 200
}

func (c *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	defer c.mu.Unlock()
	if res.StatusCode == http.StatusOK {
		if c.routes == nil {
			c.routes = map[string]bool{}
		}
		c.routes[req.URL.Path] = true
	}
	for _, p := range checkAnswer(req.URL.Path, res.StatusCode, body) {
		c.problems = append(c.problems, req.URL.Path+": "+p)
	}
	return res, nil
}

// checkAnswer checks one API answer against plaid-go's definition.
func checkAnswer(path string, status int, body []byte) []string {
	if status != http.StatusOK {
		var problems []string
		if status != 400 && status != 401 && status != 403 && status != 404 && status != 429 && status != 500 && status != 502 && status != 503 {
			problems = append(problems, fmt.Sprintf("HTTP %d is not a status Plaid answers errors with", status))
		}
		var pe plaid.PlaidError
		problems = append(problems, checkModel(body, &pe)...)
		if pe.GetRequestId() == "" {
			problems = append(problems, "error without request_id")
		}
		if pe.Status.IsSet() && pe.Status.Get() != nil && int(*pe.Status.Get()) != status {
			problems = append(problems, fmt.Sprintf("error status %d, sent with HTTP %d", *pe.Status.Get(), status))
		}
		return problems
	}
	model, ok := responseModels[path]
	if !ok {
		return []string{"a route the contract does not know"}
	}
	return checkModel(body, model())
}

// checkWebhook checks one webhook body against plaid-go's model of its code.
func checkWebhook(body []byte) []string {
	var head struct {
		Code  string          `json:"webhook_code"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return []string{err.Error()}
	}
	model, ok := webhookModels[head.Code]
	if !ok {
		return []string{"webhook code " + head.Code + " has no model in the contract"}
	}
	problems := checkModel(body, model())
	// plaid-go: request_id "will be omitted in errors provided by webhooks".
	if len(head.Error) > 0 && !bytes.Equal(head.Error, []byte("null")) && bytes.Contains(head.Error, []byte(`"request_id"`)) {
		problems = append(problems, "webhook error carries a request_id")
	}
	for i := range problems {
		problems[i] = head.Code + " webhook: " + problems[i]
	}
	return problems
}

// webhookContract collects what the receiver finds in every delivery.
type webhookContract struct {
	mu       sync.Mutex
	problems []string
	checked  int
}

func (w *webhookContract) check(body []byte) {
	p := checkWebhook(body)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checked++
	w.problems = append(w.problems, p...)
}

// checkContracts makes the test fail on any answer or webhook of the stand-in
// that plaid-go's definition would not accept.
func checkContracts(t *testing.T, api *contractTransport, hooks *webhookContract) {
	t.Helper()
	t.Cleanup(func() {
		api.mu.Lock()
		defer api.mu.Unlock()
		for _, p := range api.problems {
			t.Errorf("Plaid API contract: %s", p)
		}
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		for _, p := range hooks.problems {
			t.Errorf("Plaid webhook contract: %s", p)
		}
	})
}

// The checker itself must catch a missing required field, a null one and an
// invented enum value, or every contract test above proves nothing.
func TestCheckModelCatchesDefects(t *testing.T) {
	good := `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION","item_id":"i","consent_expiration_time":"2026-03-09T10:00:00Z","environment":"sandbox"}`
	if p := checkWebhook([]byte(good)); len(p) != 0 {
		t.Fatalf("a good webhook: %v", p)
	}
	for name, body := range map[string]string{
		"missing consent_expiration_time": `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION","item_id":"i","environment":"sandbox"}`,
		"missing environment":             `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION","item_id":"i","consent_expiration_time":"2026-03-09T10:00:00Z"}`,
		"invented environment":            `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION","item_id":"i","consent_expiration_time":"2026-03-09T10:00:00Z","environment":"local"}`,
		"null item_id":                    `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION","item_id":null,"consent_expiration_time":"2026-03-09T10:00:00Z","environment":"sandbox"}`,
		"error without error_code":        `{"webhook_type":"ITEM","webhook_code":"ERROR","item_id":"i","environment":"sandbox","error":{"error_type":"ITEM_ERROR","error_message":"m","display_message":null}}`,
		"disconnect without reason":       `{"webhook_type":"ITEM","webhook_code":"PENDING_DISCONNECT","item_id":"i","environment":"sandbox"}`,
		"wrong type":                      `{"webhook_type":"ITEM","webhook_code":"DEFAULT_UPDATE","item_id":"i","environment":"sandbox","new_transactions":"3"}`,
	} {
		if p := checkWebhook([]byte(body)); len(p) == 0 {
			t.Errorf("%s: the checker found nothing", name)
		}
	}
	item := `"item_id":"i","webhook":null,"error":null,"available_products":[],"billed_products":[],"consent_expiration_time":null`
	if p := checkAnswer("/item/get", 200, []byte(`{"item":{`+item+`,"update_type":"background"},"request_id":"r"}`)); len(p) != 0 {
		t.Errorf("a good /item/get answer: %v", p)
	}
	if p := checkAnswer("/item/get", 200, []byte(`{"item":{`+item+`},"request_id":"r"}`)); !strings.Contains(strings.Join(p, " "), "update_type") {
		t.Errorf("/item/get without item.update_type: got %v, want it reported", p)
	}
	if p := checkAnswer("/item/get", 200, []byte(`{"item":{`+item+`,"update_type":"background","error":{"error_type":"NEW_TYPE","error_code":"X","error_message":"m","display_message":null}},"request_id":"r"}`)); len(p) == 0 {
		t.Error("an invented error_type inside the Item: the checker found nothing")
	}
	if p := checkAnswer("/item/get", 400, []byte(`{"error_type":"INVALID_INPUT","error_code":"X","error_message":"m","display_message":null}`)); len(p) == 0 {
		t.Error("an error without request_id: the checker found nothing")
	}
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
	for code := range webhookModels {
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

	e.api.mu.Lock()
	defer e.api.mu.Unlock()
	for route := range responseModels {
		if !e.api.routes[route] {
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
		if p := checkAnswer(tc.path, res.StatusCode, body); len(p) > 0 {
			t.Errorf("%s %s: %v", tc.method, tc.path, p)
		}
		var pe plaid.PlaidError
		_ = json.Unmarshal(body, &pe)
		if pe.ErrorType != "INVALID_REQUEST" || pe.ErrorCode != "NOT_FOUND" || pe.ErrorMessage == "" {
			t.Errorf("%s %s: got %s/%s %q, want INVALID_REQUEST/NOT_FOUND with a message", tc.method, tc.path, pe.ErrorType, pe.ErrorCode, pe.ErrorMessage)
		}
	}
}
