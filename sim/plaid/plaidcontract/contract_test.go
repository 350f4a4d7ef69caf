package plaidcontract

import (
	"strings"
	"testing"
)

// The checker itself must catch a missing required field, a null one and an
// invented enum value, or every contract test above proves nothing.
func TestCheckModelCatchesDefects(t *testing.T) {
	good := `{"webhook_type":"ITEM","webhook_code":"PENDING_EXPIRATION","item_id":"i","consent_expiration_time":"2026-03-09T10:00:00Z","environment":"sandbox"}`
	if p := CheckWebhook([]byte(good)); len(p) != 0 {
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
		if p := CheckWebhook([]byte(body)); len(p) == 0 {
			t.Errorf("%s: the checker found nothing", name)
		}
	}
	item := `"item_id":"i","webhook":null,"error":null,"available_products":[],"billed_products":[],"consent_expiration_time":null`
	if p := CheckAnswer("/item/get", 200, []byte(`{"item":{`+item+`,"update_type":"background"},"request_id":"r"}`)); len(p) != 0 {
		t.Errorf("a good /item/get answer: %v", p)
	}
	if p := CheckAnswer("/item/get", 200, []byte(`{"item":{`+item+`},"request_id":"r"}`)); !strings.Contains(strings.Join(p, " "), "update_type") {
		t.Errorf("/item/get without item.update_type: got %v, want it reported", p)
	}
	if p := CheckAnswer("/item/get", 200, []byte(`{"item":{`+item+`,"update_type":"background","error":{"error_type":"NEW_TYPE","error_code":"X","error_message":"m","display_message":null}},"request_id":"r"}`)); len(p) == 0 {
		t.Error("an invented error_type inside the Item: the checker found nothing")
	}
	if p := CheckAnswer("/item/get", 400, []byte(`{"error_type":"INVALID_INPUT","error_code":"X","error_message":"m","display_message":null}`)); len(p) == 0 {
		t.Error("an error without request_id: the checker found nothing")
	}
}
