package platform_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
)

// The contract's field lists (platform-api.md), and which may be null.
var (
	accountFields = []string{"guid", "name", "asset", "account_kind", "environment", "bank_guid", "customer_guid",
		"counterparty_guid", "created_at", "updated_at", "plaid_institution_id", "plaid_account_mask",
		"plaid_account_name", "state", "failure_code", "balance_updated_at"}
	accountNullable = []string{"customer_guid", "counterparty_guid", "plaid_account_name", "failure_code", "balance_updated_at"}

	workflowFields   = []string{"guid", "bank_guid", "customer_guid", "type", "state", "failure_code", "created_at", "updated_at"}
	workflowNullable = []string{"customer_guid", "failure_code", "plaid_link_token"}

	timeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	guidFormat = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func TestObjectFieldsMatchTheContract(t *testing.T) {
	h := newHarness(t)
	a := h.linkAccount(t, "", "golden")
	h.waitForState(t, a.GUID, rules.Completed)
	wf, err := h.client.CreateWorkflow(t.Context(), platform.CreateWorkflowRequest{Kind: platform.WorkflowKindLinkTokenCreate})
	if err != nil {
		t.Fatalf("CreateWorkflow: %v", err)
	}
	tok := "Bearer " + bankToken(t, h, "external_bank_accounts:read workflows:read")

	tests := []struct {
		name     string
		url      string
		list     bool
		fields   []string
		nullable []string
	}{
		{"account", "/api/external_bank_accounts/" + a.GUID, false, accountFields, accountNullable},
		{"account with balances", "/api/external_bank_accounts/" + a.GUID + "?include_balances=true", false, append(slices.Clone(accountFields), "balances"), accountNullable},
		{"account in a list", "/api/external_bank_accounts", true, accountFields, accountNullable},
		{"workflow", "/api/workflows/" + wf.GUID, false, append(slices.Clone(workflowFields), "plaid_link_token"), workflowNullable},
		{"workflow in a list", "/api/workflows", true, workflowFields, workflowNullable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawGet(t, h.url+tt.url, tok)
			if status != 200 {
				t.Fatalf("status: got %d (%s), want 200", status, body)
			}
			obj := map[string]json.RawMessage{}
			if tt.list {
				var list struct {
					Total, Page, PerPage *int
					Objects              []map[string]json.RawMessage
				}
				var keys map[string]json.RawMessage
				_ = json.Unmarshal(body, &keys)
				if got := sortedKeys(keys); !slices.Equal(got, []string{"objects", "page", "per_page", "total"}) {
					t.Errorf("list fields: got %v, want objects page per_page total", got)
				}
				if err := json.Unmarshal(body, &list); err != nil || len(list.Objects) != 1 {
					t.Fatalf("list: got %s, want one object", body)
				}
				obj = list.Objects[0]
			} else if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := slices.Clone(tt.fields)
			sort.Strings(want)
			if got := sortedKeys(obj); !slices.Equal(got, want) {
				t.Errorf("fields:\n got %v\nwant %v", got, want)
			}
			for field, raw := range obj {
				if string(raw) == "null" && !slices.Contains(tt.nullable, field) {
					t.Errorf("%s: got null, want a value (not nullable)", field)
				}
			}
			for _, field := range []string{"created_at", "updated_at"} {
				var s string
				if json.Unmarshal(obj[field], &s); !timeFormat.MatchString(s) {
					t.Errorf("%s: got %q, want UTC with milliseconds", field, s)
				}
			}
			var guid string
			if json.Unmarshal(obj["guid"], &guid); !guidFormat.MatchString(guid) {
				t.Errorf("guid: got %q, want 32 lowercase hex", guid)
			}
			if raw, ok := obj["balances"]; ok && string(raw) != `{"available":null,"current":null}` {
				t.Errorf("balances: got %s, want an object of nulls before any refresh", raw)
			}
		})
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
