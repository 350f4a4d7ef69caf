package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite"

	"github.com/bankconnections/portal/internal/testutil"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

// rowState reads one row's state, badge and flags from the accounts page.
const rowStateJS = `(function (g) {
	var r = document.querySelector('[data-testid="account-row"][data-guid="' + g + '"]');
	if (!r) return "missing";
	var b = r.querySelector('[data-testid="state-badge"]');
	return r.dataset.state + "|" + (b ? b.textContent.trim() : "") + "|" + (r.querySelector('[data-testid="needs-refresh"]') ? "flag" : "") +
		"|" + (r.querySelector('[data-testid="finishing"]') ? "finishing" : "");
})`

func rowState(t *testing.T, ctx context.Context, guid string) string {
	t.Helper()
	return eval[string](t, ctx, rowStateJS+`(`+jsQuote(guid)+`)`)
}

func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func guidsInState(t *testing.T, ctx context.Context, state string) []string {
	t.Helper()
	return eval[[]string](t, ctx, `Array.from(document.querySelectorAll('[data-testid="account-row"][data-state="`+state+`"]')).map(r => r.dataset.guid)`)
}

func allGUIDs(t *testing.T, ctx context.Context) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range eval[[]string](t, ctx, `Array.from(document.querySelectorAll('[data-testid="account-row"]')).map(r => r.dataset.guid)`) {
		out[g] = true
	}
	return out
}

// waitAcrossNavigation polls a condition that survives the page navigating away.
func waitAcrossNavigation(t *testing.T, ctx context.Context, d time.Duration, what, js string) {
	t.Helper()
	testutil.EventuallyEvery(t, d, 100*time.Millisecond, func() error {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return nil
		}
		return fmt.Errorf("waiting for %s (last error %v)", what, err)
	})
}

// reloadUntil loads a page again and again until a condition holds.
func reloadUntil(t *testing.T, ctx context.Context, url string, d time.Duration, what, js string) {
	t.Helper()
	testutil.EventuallyEvery(t, d, 500*time.Millisecond, func() error {
		within(t, ctx, 10*time.Second, "load "+url, chromedp.Navigate(url))
		if !eval[bool](t, ctx, js) {
			return fmt.Errorf("%s: not yet", what)
		}
		return nil
	})
}

// chooseInstitution opens create-mode Link and picks an institution.
func chooseInstitution(t *testing.T, ctx context.Context, p *portal, search, institutionID string) context.Context {
	t.Helper()
	within(t, ctx, 10*time.Second, "click Link a bank account", chromedp.WaitEnabled(tid("link-account")), chromedp.Click(tid("link-account")))
	f := linkFrame(t, ctx, p.PlaidURL)
	inFrame(t, f, "choose "+institutionID,
		chromedp.WaitVisible(tid("plaid-search")),
		chromedp.SendKeys(tid("plaid-search"), search),
		clickIn(chromedp.CSS(`[data-testid="plaid-institution"][data-institution-id="`+institutionID+`"]`)))
	return f
}

// chooseAccount picks the n-th offered account and submits.
func chooseAccount(t *testing.T, f context.Context, n int) {
	t.Helper()
	inFrame(t, f, "wait for accounts", chromedp.WaitVisible(tid("plaid-account")))
	id := eval[string](t, f, fmt.Sprintf(`document.querySelectorAll('[data-testid="plaid-account"]')[%d].dataset.accountId`, n))
	inFrame(t, f, "choose account", clickIn(chromedp.CSS(`[data-testid="plaid-account"][data-account-id="`+id+`"]`)), clickIn(tid("plaid-submit")))
}

func TestBrowserLinkFlows(t *testing.T) {
	p := startPortal(t, "PORTAL_SYNC_INTERVAL=2s")
	ctx := newBrowser(t)
	guid := aliceWithOneExpired(t, ctx, p)

	t.Run("wrong password changes nothing", func(t *testing.T) {
		before := allGUIDs(t, ctx)
		f := chooseInstitution(t, ctx, p, "tartan", "ins_109511")
		plaidLogin(t, f, "user_good", "error_INVALID_CREDENTIALS")
		inFrame(t, f, "error view", chromedp.WaitVisible(chromedp.CSS(`[data-testid="plaid-error"][data-error-code="INVALID_CREDENTIALS"]`)), clickIn(tid("plaid-close")))
		waitFor(t, ctx, 15*time.Second, "the error message", `(function(){var e=document.querySelector('[data-testid="link-error"]');return !!e && !e.classList.contains('hidden') && e.textContent.indexOf('password was not accepted') >= 0;})()`)
		screenshot(t, ctx, "link-wrong-password")
		after := allGUIDs(t, ctx)
		if len(after) != len(before) || rowState(t, ctx, guid) != "refresh_required|Refresh required|flag|" {
			t.Fatalf("a failed Link changed the page: %v -> %v, %s", before, after, rowState(t, ctx, guid))
		}
	})

	t.Run("reconnect an expired connection", func(t *testing.T) {
		eval[bool](t, ctx, `window.__noReload = true`)
		const order = `Array.from(document.querySelectorAll('[data-testid="account-row"]')).map(r => r.dataset.guid).join(",")`
		before := eval[string](t, ctx, order)
		within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
		f := linkFrame(t, ctx, p.PlaidURL)
		plaidLogin(t, f, "user_good", "pass_good")
		waitFor(t, ctx, 30*time.Second, "the row to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)
		if !eval[bool](t, ctx, `window.__noReload === true`) {
			t.Fatal("the page was reloaded")
		}
		if after := eval[string](t, ctx, order); after != before {
			t.Errorf("rows moved after the reconnect:\n before %s\n after  %s", before, after)
		}
		if msg := eval[string](t, ctx, `document.querySelector('[data-testid="link-done"]').textContent`); !strings.HasPrefix(msg, "Reconnected") {
			t.Errorf("after the reconnect the page says %q, want Reconnected", msg)
		}
		screenshot(t, ctx, "link-reconnected")
	})

	t.Run("link a new account", func(t *testing.T) {
		before := allGUIDs(t, ctx)
		f := chooseInstitution(t, ctx, p, "platypus", "ins_109508")
		plaidLogin(t, f, "user_good", "pass_good")
		chooseAccount(t, f, 1) // savings: alice already has the checking account
		waitFor(t, ctx, 30*time.Second, "a new Connected row", `Array.from(document.querySelectorAll('[data-testid="account-row"]')).length === `+fmt.Sprint(len(before)+1))
		var fresh string
		for g := range allGUIDs(t, ctx) {
			if !before[g] {
				fresh = g
			}
		}
		waitFor(t, ctx, 30*time.Second, "the new row to become Connected", rowStateJS+`(`+jsQuote(fresh)+`) === "completed|Connected||"`)
		waitFor(t, ctx, 30*time.Second, "the message to follow the row to Connected",
			`document.querySelector('[data-testid="link-done"]').textContent.startsWith("Connected")`)
		if !eval[bool](t, ctx, `window.__noReload === true`) {
			t.Fatal("the page was reloaded")
		}
	})

	t.Run("duplicate of a working connection is refused, with nothing to reconnect", func(t *testing.T) {
		before := allGUIDs(t, ctx)
		f := chooseInstitution(t, ctx, p, "platypus", "ins_109508")
		plaidLogin(t, f, "user_good", "pass_good")
		chooseAccount(t, f, 0) // the checking account alice already has
		waitFor(t, ctx, 20*time.Second, "the duplicate message", `(function(){var e=document.querySelector('[data-testid="link-error"]');return !!e && !e.classList.contains('hidden') && e.textContent.indexOf('already linked and Connected') >= 0;})()`)
		if eval[bool](t, ctx, `!!document.querySelector('[data-testid="link-error"] [data-testid="reconnect-existing"]')`) {
			t.Fatal("the refusal offers to reconnect a connection that works")
		}
		if after := allGUIDs(t, ctx); len(after) != len(before) {
			t.Fatalf("a duplicate was created: %d rows, want %d", len(after), len(before))
		}
	})

	t.Run("platform failure shows finishing, then Connected by itself", func(t *testing.T) {
		sb := simplatform.Sandbox{BaseURL: p.PlatformURL}
		bg := context.Background()
		if err := sb.PinState(bg, guid, "refresh_required", ""); err != nil {
			t.Fatal(err)
		}
		// The sync picks the change up and the page flags it, with a banner.
		reloadUntil(t, ctx, p.URL+"/accounts", 20*time.Second, "the flag after sync",
			`!!document.querySelector('[data-testid="account-row"][data-guid="`+guid+`"] [data-testid="needs-refresh"]')`)
		if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="banner"]').length`); n < 1 {
			t.Errorf("banners after the connection expired: got %d, want at least 1", n)
		}
		if err := sb.SetFaults(bg, []simplatform.Fault{{Method: "PATCH", PathPrefix: "/api/external_bank_accounts", Status: 500, Rate: 1}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sb.ClearFaults(context.Background()) })
		eval[bool](t, ctx, `window.__noReload = true`)
		within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
		f := linkFrame(t, ctx, p.PlaidURL)
		plaidLogin(t, f, "user_good", "pass_good")
		waitFor(t, ctx, 30*time.Second, "finishing", rowStateJS+`(`+jsQuote(guid)+`).endsWith("|finishing")`)
		screenshot(t, ctx, "link-finishing")
		if err := sb.ClearFaults(bg); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, 60*time.Second, "Connected after the fault cleared", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)
		if !eval[bool](t, ctx, `window.__noReload === true`) {
			t.Fatal("alice had to reload")
		}
	})

	t.Run("INVALID_LINK_TOKEN recovers with a fresh token", func(t *testing.T) {
		before := allGUIDs(t, ctx)
		f := chooseInstitution(t, ctx, p, "houndstooth", "ins_109512")
		for i := 1; i <= 3; i++ {
			plaidLogin(t, f, "user_good", "error_INVALID_CREDENTIALS")
			if i < 3 {
				inFrame(t, f, "try again", chromedp.WaitVisible(chromedp.CSS(`[data-testid="plaid-error"][data-error-code="INVALID_CREDENTIALS"]`)), clickIn(tid("plaid-submit")))
			}
		}
		inFrame(t, f, "token invalidated", chromedp.WaitVisible(chromedp.CSS(`[data-testid="plaid-error"][data-error-code="INVALID_LINK_TOKEN"]`)), clickIn(tid("plaid-close")))
		// The glue fetches a new token and reopens Link by itself.
		f = linkFrame(t, ctx, p.PlaidURL)
		inFrame(t, f, "choose again", chromedp.WaitVisible(tid("plaid-search")), chromedp.SendKeys(tid("plaid-search"), "houndstooth"),
			clickIn(chromedp.CSS(`[data-testid="plaid-institution"][data-institution-id="ins_109512"]`)))
		plaidLogin(t, f, "user_good", "pass_good")
		chooseAccount(t, f, 1) // alice's seeded Houndstooth connection is the first account
		waitFor(t, ctx, 30*time.Second, "the new row", `document.querySelectorAll('[data-testid="account-row"]').length === `+fmt.Sprint(len(before)+1))
	})

	t.Run("OAuth bank round trip", func(t *testing.T) {
		before := allGUIDs(t, ctx)
		f := chooseInstitution(t, ctx, p, "oauth", "ins_127287")
		inFrame(t, f, "continue to the bank", clickIn(tid("plaid-submit")))
		waitAcrossNavigation(t, ctx, 20*time.Second, "the OAuth return page", `location.pathname === "/link/oauth-return" && location.search.indexOf("oauth_state_id=") >= 0`)
		f = linkFrame(t, ctx, p.PlaidURL)
		chooseAccount(t, f, 0)
		waitAcrossNavigation(t, ctx, 30*time.Second, "back on the accounts page", `location.pathname === "/accounts" && document.querySelectorAll('[data-testid="account-row"]').length === `+fmt.Sprint(len(before)+1))
		if !strings.Contains(eval[string](t, ctx, `document.body.textContent`), "Platypus OAuth Bank") {
			t.Error("the OAuth bank's connection is not listed")
		}
	})

	t.Run("platform down when a link token is asked for", func(t *testing.T) {
		sb := simplatform.Sandbox{BaseURL: p.PlatformURL}
		if err := sb.SetFaults(context.Background(), []simplatform.Fault{{Method: "POST", PathPrefix: "/api/workflows", Status: 500}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sb.ClearFaults(context.Background()) })
		within(t, ctx, 10*time.Second, "click Link a bank account", chromedp.Navigate(p.URL+"/accounts"), chromedp.WaitEnabled(tid("link-account")), chromedp.Click(tid("link-account")))
		waitFor(t, ctx, 20*time.Second, "a clear message and the button back", `(function(){
			var e = document.querySelector('[data-testid="link-error"]'), b = document.querySelector('[data-testid="link-account"]');
			var p = document.querySelector('[data-testid="link-progress"]');
			return !!e && !e.classList.contains('hidden') && e.textContent.indexOf('try again') >= 0 && !b.disabled && p.classList.contains('hidden');})()`)
		screenshot(t, ctx, "link-platform-down")
		if err := sb.ClearFaults(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Retry works, and leaving Link without an error changes nothing and says nothing.
		before := allGUIDs(t, ctx)
		within(t, ctx, 10*time.Second, "retry", chromedp.Click(tid("link-account")))
		f := linkFrame(t, ctx, p.PlaidURL)
		inFrame(t, f, "close Link", clickIn(tid("plaid-close")))
		waitFor(t, ctx, 15*time.Second, "Link closed quietly", `(function(){
			var b = document.querySelector('[data-testid="link-account"]');
			return !b.disabled && document.querySelector('[data-testid="link-error"]').classList.contains('hidden');})()`)
		if after := allGUIDs(t, ctx); len(after) != len(before) {
			t.Fatal("closing Link changed the connections")
		}
	})

	t.Run("every Link callback is stored", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(p.DataDir, "portal.db")+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		seen := map[string]bool{}
		rows, err := db.Query(`SELECT kind, event_name, view_name, error_code, plaid_link_session_id FROM link_events`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n, withSession := 0, 0
		for rows.Next() {
			var kind, name, view, code, sess string
			if err := rows.Scan(&kind, &name, &view, &code, &sess); err != nil {
				t.Fatal(err)
			}
			n++
			if sess != "" {
				withSession++
			}
			seen[kind+":"+name] = true
			if view != "" {
				seen["view:"+view] = true
			}
			if code != "" {
				seen["code:"+code] = true
			}
		}
		for _, want := range []string{"event:OPEN", "event:SUBMIT_CREDENTIALS", "event:HANDOFF", "event:OPEN_OAUTH", "exit:", "success:SUCCESS",
			"view:CREDENTIAL", "code:INVALID_CREDENTIALS", "code:INVALID_LINK_TOKEN"} {
			if !seen[want] {
				t.Errorf("stored callbacks lack %s (have %v)", want, seen)
			}
		}
		if withSession < n*9/10 {
			t.Errorf("callbacks with Plaid's link_session_id: %d of %d", withSession, n)
		}
	})
}

// apiClient is a signed-in HTTP client of the real portal.
type apiClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func signIn(t *testing.T, base, email, password string) *apiClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	res, body := formPost(t, c, base, "/login", "/login", url.Values{"email": {email}, "password": {password}})
	if res.Request.URL.Path == "/login" {
		t.Fatalf("sign in as %s failed", email)
	}
	// The CSRF token belongs to the session, which sign-in renews.
	tok := metaCSRF(t, body)
	if tok == "" {
		t.Fatalf("no CSRF token on %s after signing in", res.Request.URL.Path)
	}
	return &apiClient{t: t, base: base, c: c, csrf: tok}
}

func (a *apiClient) json(method, path string, body any) (int, map[string]string) {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", a.csrf)
	return a.sendJSON(req)
}

// sendJSON sends a request and reads its JSON answer.
func (a *apiClient) sendJSON(req *http.Request) (int, map[string]string) {
	a.t.Helper()
	res, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]string{}
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestLinkFlowsRefuseAnotherCustomer(t *testing.T) {
	p := startPortal(t)
	alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
	bob := signIn(t, p.URL, "bob@example.com", "demo-bob")

	// alice's expired connection, from her page.
	aliceAccount := ""
	for _, r := range accountRows(t, alice.page("/accounts")) {
		if r.state == "refresh_required" {
			aliceAccount = r.guid
			break
		}
	}
	if aliceAccount == "" {
		t.Fatal("alice has no refresh_required connection")
	}

	if status, _ := bob.json(http.MethodPost, "/link/sessions", map[string]string{"mode": "update", "account_guid": aliceAccount}); status != http.StatusNotFound {
		t.Fatalf("bob reconnecting alice's account: got %d, want 404", status)
	}
	status, ls := alice.json(http.MethodPost, "/link/sessions", map[string]string{"mode": "update", "account_guid": aliceAccount})
	if status != http.StatusCreated || ls["id"] == "" {
		t.Fatalf("alice starting a reconnect: got %d %v", status, ls)
	}
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/link/sessions/" + ls["id"], nil},
		{http.MethodPost, "/link/sessions/" + ls["id"] + "/callbacks", map[string]any{"kind": "event", "name": "OPEN", "metadata": map[string]string{}}},
		{http.MethodPost, "/link/sessions/" + ls["id"] + "/complete", map[string]any{"public_token": "public-sandbox-x", "metadata": map[string]any{"accounts": []any{}}}},
	} {
		if status, body := bob.json(tc.method, tc.path, tc.body); status != http.StatusNotFound {
			t.Errorf("bob %s %s: got %d %v, want 404", tc.method, tc.path, status, body)
		}
	}
	// Nothing bob sent reached alice's connection.
	if !strings.Contains(alice.page("/accounts/"+aliceAccount), `data-state="refresh_required"`) {
		t.Fatal("alice's connection changed state")
	}
}
