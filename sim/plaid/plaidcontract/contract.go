// Package plaidcontract checks answers and webhook bodies against Plaid's own
// definition as plaid-go v20.1.0 generates it (Plaid API version
// 2020-09-14_1.485.0; the module version is pinned in go.mod), for the tests
// of everything that talks to the Plaid stand-in. Every API answer and every
// webhook body must decode into plaid-go's model, with every property the
// model marks required (a JSON tag without omitempty) present, non-null
// unless the model's type is Nullable or a pointer, and every enum value one
// the model knows. plaid-go v20's UnmarshalJSON does not check required
// properties itself (it only collects additional ones), so checkModel does.
//
// PENDING_DISCONNECT has no model in plaid-go v20.1.0; pendingDisconnect
// below pins the fields Plaid's OpenAPI definition gives it (the same as the
// PendingDisconnectWebhook of Plaid's generated clients): webhook_type,
// webhook_code, item_id, reason (INSTITUTION_MIGRATION or
// INSTITUTION_TOKEN_EXPIRATION) and environment, all required.
package plaidcontract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/plaid/plaid-go/v20/plaid"
)

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

// Transport checks every answer plaid-go receives through it: a success
// against the route's response model, an error against PlaidError with its
// request_id and an HTTP status of Plaid's.
type Transport struct {
	// Base sends the requests; http.DefaultTransport when nil.
	Base     http.RoundTripper
	mu       sync.Mutex
	problems []string
	routes   map[string]bool // every route answered with 200
}

// Problems returns what the answers so far fell short in.
func (c *Transport) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.problems...)
}

// Answered tells whether the route has been answered with 200.
func (c *Transport) Answered(route string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.routes[route]
}

// Routes lists every route the contract knows.
func Routes() []string {
	var out []string
	for r := range responseModels {
		out = append(out, r)
	}
	return out
}

// WebhookCodes lists every webhook code the contract knows.
func WebhookCodes() []string {
	var out []string
	for c := range webhookModels {
		out = append(out, c)
	}
	return out
}

// RoundTrip sends the request and checks its answer.
func (c *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
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
	for _, p := range CheckAnswer(req.URL.Path, res.StatusCode, body) {
		c.problems = append(c.problems, req.URL.Path+": "+p)
	}
	return res, nil
}

// CheckAnswer checks one API answer against plaid-go's definition.
func CheckAnswer(path string, status int, body []byte) []string {
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

// CheckWebhook checks one webhook body against plaid-go's model of its code.
func CheckWebhook(body []byte) []string {
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
