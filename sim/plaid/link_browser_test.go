package simplaid_test

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/plaid/plaid-go/v20/plaid"
)

// linkToken creates a link token through plaid-go: create mode, or update
// mode for accessToken.
func (e *env) linkToken(t *testing.T, accessToken, redirectURI string, accountSelection bool) string {
	t.Helper()
	req := linkTokenRequest()
	req.SetWebhook(e.hookURL)
	if redirectURI != "" {
		req.SetRedirectUri(redirectURI)
	}
	if accessToken != "" {
		req.SetAccessToken(accessToken)
		if accountSelection {
			u := plaid.NewLinkTokenCreateRequestUpdate()
			u.SetAccountSelectionEnabled(true)
			req.SetUpdate(*u)
		}
	} else {
		req.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
	}
	resp, _, err := e.client.PlaidApi.LinkTokenCreate(context.Background()).LinkTokenCreateRequest(*req).Execute()
	if err != nil {
		t.Fatalf("link token create: %v", err)
	}
	return resp.GetLinkToken()
}

func (e *env) accounts(t *testing.T, accessToken string) []plaid.AccountBase {
	t.Helper()
	resp, _, err := e.client.PlaidApi.AccountsGet(context.Background()).AccountsGetRequest(*plaid.NewAccountsGetRequest(accessToken)).Execute()
	if err != nil {
		t.Fatalf("accounts get: %v", err)
	}
	return resp.GetAccounts()
}

func openPage(t *testing.T, b *browser, pageURL, token string, extra ...string) {
	t.Helper()
	q := url.Values{"token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	b.navigate(t, pageURL+"/link?"+q.Encode())
}

func wantError(t *testing.T, c callback, code string) {
	t.Helper()
	if c.Error == nil || c.Error["error_code"] != code || c.Error["error_type"] == "" || c.Error["error_message"] == "" {
		t.Fatalf("onExit error = %v, want %s with type and message", c.Error, code)
	}
	if _, ok := c.Error["display_message"]; !ok {
		t.Errorf("onExit error %v has no display_message key", c.Error)
	}
}

func TestLinkSimulator(t *testing.T) {
	b := newBrowser(t)
	e := newEnv(t, -1)
	pageURL := testPage(t, e.ts.URL)

	t.Run("create mode success", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", "", false))
		f := b.frame(t, e.ts.URL)
		f.typeText(t, testID("plaid-search"), "platypus")
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_109508"]`)
		f.login(t, "user_good", "pass_good")
		f.waitVisible(t, testID("plaid-account"))
		savings := f.evalString(t, `document.querySelectorAll('[data-testid="plaid-account"]')[1].dataset.accountId`)
		if typ := f.evalString(t, `document.querySelector('[data-testid="plaid-account"]').type`); typ != "radio" {
			t.Errorf("account input type = %s, want radio in create mode", typ)
		}
		f.click(t, chromedp.CSS(`[data-testid="plaid-account"][data-account-id="`+savings+`"]`))
		f.click(t, testID("plaid-submit"))

		log := b.waitCallback(t, "success")
		if log[0].Kind != "load" {
			t.Errorf("first callback = %s, want onLoad before anything else", log[0].Kind)
		}
		want := []string{"OPEN", "TRANSITION_VIEW:SELECT_INSTITUTION", "SEARCH_INSTITUTION", "SELECT_INSTITUTION",
			"TRANSITION_VIEW:CREDENTIAL", "SUBMIT_CREDENTIALS", "TRANSITION_VIEW:SELECT_ACCOUNT", "TRANSITION_VIEW:CONNECTED", "HANDOFF"}
		// Typing "platypus" fires one SEARCH_INSTITUTION per keystroke; keep one.
		var got []string
		for _, n := range eventNames(log) {
			if n == "SEARCH_INSTITUTION" && len(got) > 0 && got[len(got)-1] == n {
				continue
			}
			got = append(got, n)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("events = %v, want %v", got, want)
		}
		s := find(log, "success")
		md := s.Metadata
		inst, _ := md["institution"].(map[string]any)
		if inst["name"] != "First Platypus Bank" || inst["institution_id"] != "ins_109508" {
			t.Errorf("metadata.institution = %v, want First Platypus Bank ins_109508", md["institution"])
		}
		accounts, _ := md["accounts"].([]any)
		if len(accounts) != 1 {
			t.Fatalf("metadata.accounts = %v, want one account", md["accounts"])
		}
		acc := accounts[0].(map[string]any)
		wantAcc := map[string]any{"id": savings, "name": "Plaid Saving", "mask": "1111", "type": "depository", "subtype": "savings", "verification_status": nil}
		if !reflect.DeepEqual(acc, wantAcc) {
			t.Errorf("account = %v, want %v", acc, wantAcc)
		}
		sid, _ := md["link_session_id"].(string)
		if sid == "" {
			t.Error("metadata.link_session_id is empty")
		}
		for _, c := range log {
			if c.Kind == "event" && (c.Metadata["link_session_id"] != sid || c.Metadata["timestamp"] == nil || c.Metadata["is_update_mode"] != false) {
				t.Errorf("event %s metadata = %v, want link_session_id %s, a timestamp, is_update_mode false", c.Name, c.Metadata, sid)
			}
		}
		if !strings.HasPrefix(s.PublicToken, "public-sandbox-") {
			t.Fatalf("public token = %q", s.PublicToken)
		}
		ex, _, err := e.client.PlaidApi.ItemPublicTokenExchange(context.Background()).
			ItemPublicTokenExchangeRequest(*plaid.NewItemPublicTokenExchangeRequest(s.PublicToken)).Execute()
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if got := e.accounts(t, ex.GetAccessToken()); len(got) != 1 || got[0].GetAccountId() != savings {
			t.Errorf("shared accounts = %v, want only %s", got, savings)
		}
	})

	t.Run("user exit at credentials", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", "", false))
		f := b.frame(t, e.ts.URL)
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_109511"]`)
		f.waitVisible(t, testID("plaid-username"))
		f.click(t, testID("plaid-close"))
		log := b.waitCallback(t, "exit")
		x := find(log, "exit")
		if x.Error != nil {
			t.Errorf("onExit error = %v, want null", x.Error)
		}
		inst, _ := x.Metadata["institution"].(map[string]any)
		if x.Metadata["status"] != "requires_credentials" || inst["institution_id"] != "ins_109511" || x.Metadata["link_session_id"] == nil || x.Metadata["request_id"] == nil {
			t.Errorf("onExit metadata = %v, want status requires_credentials at ins_109511 with session and request ids", x.Metadata)
		}
		names := eventNames(log)
		if names[len(names)-1] != "EXIT" {
			t.Errorf("last event = %s, want EXIT", names[len(names)-1])
		}
	})

	t.Run("login error then exit", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", "", false))
		f := b.frame(t, e.ts.URL)
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_109508"]`)
		f.login(t, "user_good", "error_ITEM_LOCKED")
		f.waitVisible(t, `[data-testid="plaid-error"][data-error-code="ITEM_LOCKED"]`)
		f.click(t, testID("plaid-close"))
		log := b.waitCallback(t, "exit")
		x := find(log, "exit")
		wantError(t, x, "ITEM_LOCKED")
		if x.Metadata["status"] != "requires_credentials" {
			t.Errorf("status = %v, want requires_credentials", x.Metadata["status"])
		}
		names := eventNames(log)
		if want := []string{"SUBMIT_CREDENTIALS", "ERROR", "TRANSITION_VIEW:ERROR", "EXIT"}; !reflect.DeepEqual(names[len(names)-4:], want) {
			t.Errorf("last events = %v, want %v", names[len(names)-4:], want)
		}
	})

	t.Run("exit at institution search", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", "", false))
		f := b.frame(t, e.ts.URL)
		f.typeText(t, testID("plaid-search"), "no such bank")
		f.click(t, testID("plaid-close"))
		x := find(b.waitCallback(t, "exit"), "exit")
		if x.Metadata["status"] != "institution_not_found" || x.Metadata["institution"] != nil {
			t.Errorf("onExit metadata = %v, want institution_not_found and no institution", x.Metadata)
		}
	})

	t.Run("mfa", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", "", false))
		f := b.frame(t, e.ts.URL)
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_109508"]`)
		f.login(t, "user_good", "mfa_device")
		f.typeText(t, testID("plaid-mfa-code"), "0000")
		f.click(t, testID("plaid-submit"))
		f.waitVisible(t, `[data-testid="plaid-error"][data-error-code="INVALID_MFA"]`)
		f.click(t, testID("plaid-submit")) // try again
		f.typeText(t, testID("plaid-mfa-code"), "1234")
		f.click(t, testID("plaid-submit"))
		f.click(t, testID("plaid-account"))
		f.click(t, testID("plaid-submit"))
		log := b.waitCallback(t, "success")
		var sawMFA bool
		for _, c := range log {
			if c.Kind == "event" && c.Name == "SUBMIT_MFA" && c.Metadata["mfa_type"] == "code" {
				sawMFA = true
			}
		}
		if !sawMFA {
			t.Errorf("events = %v, want SUBMIT_MFA with mfa_type code", eventNames(log))
		}
	})

	t.Run("too many failed logins invalidate the token", func(t *testing.T) {
		token := e.linkToken(t, "", "", false)
		openPage(t, b, pageURL, token)
		f := b.frame(t, e.ts.URL)
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_109508"]`)
		for i := 1; i <= 3; i++ {
			f.login(t, "user_good", "wrong")
			if i < 3 {
				f.waitVisible(t, `[data-testid="plaid-error"][data-error-code="INVALID_CREDENTIALS"]`)
				f.click(t, testID("plaid-submit")) // try again
			}
		}
		f.waitVisible(t, `[data-testid="plaid-error"][data-error-code="INVALID_LINK_TOKEN"]`)
		f.click(t, testID("plaid-close"))
		wantError(t, find(b.waitCallback(t, "exit"), "exit"), "INVALID_LINK_TOKEN")

		// Opening the same token again fails at once.
		openPage(t, b, pageURL, token)
		log := b.waitCallback(t, "exit")
		wantError(t, find(log, "exit"), "INVALID_LINK_TOKEN")
		if names := eventNames(log); !reflect.DeepEqual(names, []string{"ERROR", "EXIT"}) {
			t.Errorf("events = %v, want [ERROR EXIT]", names)
		}
	})

	t.Run("update mode with account selection", func(t *testing.T) {
		access, itemID := e.sandboxItem(t, "ins_109508", "")
		if _, _, err := e.client.PlaidApi.SandboxItemResetLogin(context.Background()).SandboxItemResetLoginRequest(*plaid.NewSandboxItemResetLoginRequest(access)).Execute(); err != nil {
			t.Fatalf("reset login: %v", err)
		}
		e.nextHook(t)
		shared := e.accounts(t, access)[0].GetAccountId()
		openPage(t, b, pageURL, e.linkToken(t, access, "", true))
		f := b.frame(t, e.ts.URL)
		f.login(t, "user_good", "pass_good")
		f.waitVisible(t, testID("plaid-account"))
		checked := f.evalString(t, `Array.from(document.querySelectorAll('[data-testid="plaid-account"]')).map(function (i) { return i.type + ':' + i.checked + ':' + i.dataset.accountId; }).join(',')`)
		parts := strings.Split(checked, ",")
		if len(parts) != 2 || parts[0] != "checkbox:true:"+shared || !strings.HasPrefix(parts[1], "checkbox:false:") {
			t.Fatalf("accounts = %s, want checkboxes with only %s checked", checked, shared)
		}
		f.click(t, chromedp.CSS(`[data-testid="plaid-account"][data-account-id="`+strings.TrimPrefix(parts[1], "checkbox:false:")+`"]`))
		f.click(t, testID("plaid-submit"))
		log := b.waitCallback(t, "success")
		s := find(log, "success")
		if accounts, _ := s.Metadata["accounts"].([]any); len(accounts) != 2 || s.PublicToken == "" {
			t.Errorf("onSuccess = %q %v, want a public token and two accounts", s.PublicToken, s.Metadata)
		}
		open := log[1]
		if open.Name != "OPEN" || open.Metadata["is_update_mode"] != true || open.Metadata["institution_id"] != "ins_109508" {
			t.Errorf("first event = %s %v, want OPEN in update mode at ins_109508", open.Name, open.Metadata)
		}
		for _, n := range eventNames(log) {
			if n == "SELECT_INSTITUTION" || n == "TRANSITION_VIEW:SELECT_INSTITUTION" {
				t.Errorf("update mode showed institution choice: %v", eventNames(log))
			}
		}
		item, _, err := e.client.PlaidApi.ItemGet(context.Background()).ItemGetRequest(*plaid.NewItemGetRequest(access)).Execute()
		if err != nil {
			t.Fatalf("item get: %v", err)
		}
		if item.Item.Error.Get() != nil || item.Item.GetItemId() != itemID {
			t.Errorf("item error = %+v, want the login repaired", item.Item.Error.Get())
		}
		if got := e.accounts(t, access); len(got) != 2 {
			t.Errorf("shared accounts after update = %d, want 2", len(got))
		}
	})

	t.Run("oauth round trip", func(t *testing.T) {
		token := e.linkToken(t, "", pageURL+"/oauth-return", false)
		other := e.linkToken(t, "", pageURL+"/oauth-return", false)
		openPage(t, b, pageURL, token)
		eval[bool](t, b, `sessionStorage.setItem('hold', '1'), true`)
		f := b.frame(t, e.ts.URL)
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_127287"]`)
		f.click(t, testID("plaid-submit"))

		// The top window lands on the redirect_uri with an oauth_state_id.
		b.run(t, "wait for the OAuth return", pollLocation(pageURL+"/oauth-return?oauth_state_id="))
		// The return page's script is deferred: wait until it has run.
		b.run(t, "wait for the return page's script", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`typeof window.__resume === "function"`)(ctx, tg)
			return err
		}))
		eval[bool](t, b, `window.__resume(`+jsString(other)+`), true`)
		wantError(t, find(b.waitCallback(t, "exit"), "exit"), "INCORRECT_LINK_TOKEN")

		eval[bool](t, b, `window.__log.length = 0, window.__resume(sessionStorage.getItem('link_token')), true`)
		f = b.frame(t, e.ts.URL)
		f.click(t, testID("plaid-account"))
		f.click(t, testID("plaid-submit"))
		s := find(b.waitCallback(t, "success"), "success")
		inst, _ := s.Metadata["institution"].(map[string]any)
		if inst["institution_id"] != "ins_127287" || !strings.HasPrefix(s.PublicToken, "public-sandbox-") {
			t.Errorf("onSuccess = %q %v, want a public token at ins_127287", s.PublicToken, s.Metadata)
		}
	})

	t.Run("oauth return page resumes by itself", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", pageURL+"/oauth-return", false))
		f := b.frame(t, e.ts.URL)
		f.click(t, `[data-testid="plaid-institution"][data-institution-id="ins_127287"]`)
		f.click(t, testID("plaid-submit"))
		b.run(t, "wait for the OAuth return", pollLocation(pageURL+"/oauth-return?oauth_state_id="))
		f = b.frame(t, e.ts.URL)
		f.click(t, testID("plaid-account"))
		f.click(t, testID("plaid-submit"))
		b.waitCallback(t, "success")
	})

	t.Run("receivedRedirectUri on first open", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", pageURL+"/oauth-return", false), "rru", pageURL+"/oauth-return?oauth_state_id=made-up")
		wantError(t, find(b.waitCallback(t, "exit"), "exit"), "OAUTH_STATE_ID_NOT_FOUND")
	})

	t.Run("handler exit", func(t *testing.T) {
		openPage(t, b, pageURL, e.linkToken(t, "", "", false))
		f := b.frame(t, e.ts.URL)
		f.waitVisible(t, testID("plaid-search"))
		eval[bool](t, b, `window.__handler.exit({force: true}), true`)
		x := find(b.waitCallback(t, "exit"), "exit")
		if x.Error != nil || x.Metadata["status"] != "institution_not_found" {
			t.Errorf("onExit = %v %v, want null error and institution_not_found", x.Error, x.Metadata)
		}
	})
}
