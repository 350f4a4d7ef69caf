package contract_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/platform/contract"
	"github.com/bankconnections/portal/rules"
)

const (
	g1 = "0123456789abcdef0123456789abcdef"
	g2 = "fedcba9876543210fedcba9876543210"
)

var goodTransfer = `{"guid":"` + g1 + `","transfer_type":"funding","customer_guid":"` + g2 + `","quote_guid":"` + g1 + `",
	"external_bank_account_guid":"` + g2 + `","asset":"USD","side":"deposit","state":"holding","failure_code":null,"amount":2500,
	"payment_rail":"ach","created_at":"2026-01-15T12:00:00.000Z","updated_at":"2026-01-15T12:00:00.000Z",
	"source_participants":[{"type":"customer","amount":2500,"guid":"` + g2 + `"}],
	"destination_participants":[{"type":"customer","amount":2500,"guid":"` + g2 + `"}]}`

func TestCheckerAcceptsWhatTheDefinitionsAllow(t *testing.T) {
	ok := []contract.Exchange{
		{Method: "GET", Path: "/api/transfers/" + g1, Status: 200, Answer: []byte(goodTransfer)},
		{Method: "POST", Path: "/api/quotes", Status: 201,
			Request: []byte(`{"product_type":"funding","asset":"USD","side":"deposit","receive_amount":2500}`),
			Answer: []byte(`{"guid":"` + g1 + `","product_type":"funding","customer_guid":"` + g2 + `","side":"deposit","asset":"USD",
				"receive_amount":2500,"deliver_amount":2500,"fee":0,"issued_at":"2026-01-15T12:00:00.000Z","expires_at":null}`)},
		{Method: "GET", Path: "/api/transfers", Query: url.Values{"state": {"holding,reviewing"}, "per_page": {"100"}}, Status: 200,
			Answer: []byte(`{"total":1,"page":0,"per_page":100,"objects":[` + goodTransfer + `]}`)},
		{Method: "GET", Path: "/api/external_bank_accounts/" + g1, Status: 404,
			Answer: []byte(`{"status":404,"error_message":"External bank account not found","message_code":"not_found"}`)},
		{Method: "POST", Path: "/oauth/token", ContentType: "application/x-www-form-urlencoded",
			Request: []byte("grant_type=client_credentials&client_id=a&client_secret=b&scope=transfers%3Aread+workflows%3Aread"), Status: 200,
			Answer: []byte(`{"access_token":"x.y.z","token_type":"Bearer","expires_in":3600,"scope":"transfers:read workflows:read","created_at":1}`)},
		{Method: "POST", Path: "/sandbox/faults", Status: 200, Answer: []byte(`not the platform's`)},
	}
	for _, x := range ok {
		if v := contract.CheckExchange(x); len(v) > 0 {
			t.Errorf("%s %s: got violations %v, want none", x.Method, x.Path, v)
		}
	}
}

// The checker fails on what the real platform would never send or accept:
// each case must be reported, naming the culprit.
func TestCheckerReportsWhatBreaksTheDefinitions(t *testing.T) {
	transfer := func(from, to string) []byte { return []byte(strings.Replace(goodTransfer, from, to, 1)) }
	cases := []struct {
		name string
		x    contract.Exchange
		want string
	}{
		{"an invented transfer state", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 200,
			Answer: transfer(`"state":"holding"`, `"state":"on_hold"`)}, `"on_hold" is not one of`},
		{"an invented failure code", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 200,
			Answer: transfer(`"failure_code":null`, `"failure_code":"invalid_routing_number"`)}, `"invalid_routing_number" is not one of`},
		{"a renamed field", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 200,
			Answer: transfer(`"payment_rail":`, `"rail":`)}, "rail: no such field"},
		{"a missing field the portal reads", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 200,
			Answer: transfer(`"state":"holding",`, ``)}, "state: required field missing"},
		{"null where the field is not nullable", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 200,
			Answer: transfer(`"asset":"USD"`, `"asset":null`)}, "asset: null"},
		{"a guid of the wrong length", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 200,
			Answer: transfer(`"quote_guid":"`+g1+`"`, `"quote_guid":"abc"`)}, "quote_guid: 3 characters"},
		{"an invented account state", contract.Exchange{Method: "GET", Path: "/api/external_bank_accounts", Status: 200,
			Answer: []byte(`{"total":1,"page":0,"per_page":10,"objects":[{"guid":"` + g1 + `","name":"Checking","asset":"USD","account_kind":"plaid",
				"environment":"sandbox","bank_guid":"` + g2 + `","customer_guid":null,"created_at":"2026-01-15T12:00:00.000Z",
				"updated_at":"2026-01-15T12:00:00.000Z","plaid_institution_id":"ins_1","plaid_account_mask":"1234","state":"expired","failure_code":null}]}`)},
			`"expired" is not one of`},
		{"a funding transfer without participants", contract.Exchange{Method: "POST", Path: "/api/transfers", Status: 201,
			Request: []byte(`{"quote_guid":"` + g1 + `","transfer_type":"funding","external_bank_account_guid":"` + g2 + `","payment_rail":"ach"}`),
			Answer:  []byte(goodTransfer)}, "a funding transfer needs source_participants and destination_participants"},
		{"an invented participant type", contract.Exchange{Method: "POST", Path: "/api/transfers", Status: 201,
			Request: []byte(`{"quote_guid":"` + g1 + `","transfer_type":"funding","payment_rail":"ach",
				"source_participants":[{"type":"person","amount":1,"guid":"` + g2 + `"}],"destination_participants":[{"type":"customer","amount":1,"guid":"` + g2 + `"}]}`),
			Answer: []byte(goodTransfer)}, `"person" is not one of`},
		{"a workflow without language", contract.Exchange{Method: "POST", Path: "/api/workflows", Status: 201,
			Request: []byte(`{"type":"plaid","kind":"link_token_create","link_customization_name":"default"}`),
			Answer: []byte(`{"guid":"` + g1 + `","customer_guid":null,"type":"plaid","state":"storing","failure_code":null,
				"created_at":"2026-01-15T12:00:00.000Z","updated_at":"2026-01-15T12:00:00.000Z"}`)}, "needs language"},
		{"an invented patch state", contract.Exchange{Method: "PATCH", Path: "/api/external_bank_accounts/" + g1, Status: 200,
			Request: []byte(`{"state":"deleted"}`), Answer: []byte(`{}`)}, `"deleted" is not one of completed, refresh_required`},
		{"an error in another shape", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 404,
			Answer: []byte(`{"error":"not found"}`)}, "error: no such field"},
		{"an invented error code", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 403,
			Answer: []byte(`{"status":403,"error_message":"no","message_code":"forbidden"}`)}, `"forbidden" is not one of`},
		{"an error status unlike the wire's", contract.Exchange{Method: "GET", Path: "/api/transfers/" + g1, Status: 422,
			Answer: []byte(`{"status":400,"error_message":"no","message_code":"invalid_value"}`)}, "status 400 in the body, 422 on the wire"},
		{"an unknown scope", contract.Exchange{Method: "POST", Path: "/oauth/token", ContentType: "application/json", Status: 200,
			Request: []byte(`{"grant_type":"client_credentials","client_id":"a","client_secret":"b","scope":"transfers:everything"}`),
			Answer:  []byte(`{"access_token":"x","token_type":"Bearer","expires_in":3600,"scope":""}`)}, "transfers:everything"},
		{"per_page over 100", contract.Exchange{Method: "GET", Path: "/api/transfers", Query: url.Values{"per_page": {"500"}}, Status: 200,
			Answer: []byte(`{"total":0,"page":0,"per_page":500,"objects":[]}`)}, "per_page 500"},
		{"an operation the platform does not have", contract.Exchange{Method: "POST", Path: "/api/transfers/" + g1 + "/cancel", Status: 200,
			Answer: []byte(`{}`)}, "no such operation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := contract.CheckExchange(c.x)
			if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, c.want) }) {
				t.Errorf("got %v, want a violation saying %q", v, c.want)
			}
		})
	}
}

// A request the platform refused may be a test of the refusal: only the
// error answer is checked then.
func TestRefusedRequestsAreNotHeldAgainstTheClient(t *testing.T) {
	x := contract.Exchange{Method: "POST", Path: "/api/transfers", Status: http.StatusBadRequest,
		Request: []byte(`{"quote_guid":"x"}`), Answer: []byte(`{"status":400,"error_message":"source_participants is required","message_code":"missing_parameter"}`)}
	if v := contract.CheckExchange(x); len(v) != 0 {
		t.Errorf("got %v, want none", v)
	}
}

// The Go client's enums, and the account states the portal names in rules,
// are the pinned definitions' (no value missing, none invented).
func TestClientEnumsMatchTheDefinitions(t *testing.T) {
	same := func(name string, got, want []string) {
		t.Helper()
		g, w := slices.Clone(got), slices.Clone(want)
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("%s: client has %v, definitions %v", name, g, w)
		}
	}
	same("transfer states", platform.TransferStates, contract.TransferStates)
	same("transfer failure codes", platform.TransferFailureCodes, contract.TransferFailureCodes)
	same("account states (rules, their one home)", rules.States, contract.AccountStates)
	same("scopes", platform.AllScopes, contract.Scopes)
	for _, sc := range platform.DefaultScopes() {
		if !slices.Contains(contract.Scopes, sc) {
			t.Errorf("default scope %s is not a scope of the platform", sc)
		}
	}
}
