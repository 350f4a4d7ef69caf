package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bankconnections/portal/internal/testutil"
)

// A platform API key without transfers:execute: the portal starts, accounts
// and both Link flows work, the connection page says moving money is not
// enabled, and the log says why; nothing else fails.
func TestBrowserKeyWithoutTransfersExecute(t *testing.T) {
	keyScopes := "external_bank_accounts:read external_bank_accounts:write external_bank_accounts:execute " +
		"workflows:read workflows:execute customers:read customers:write customers:execute quotes:read quotes:execute transfers:read"
	p := startPortal(t, "PORTAL_SYNC_INTERVAL=2s", "PLATFORMSIM_KEY_SCOPES="+keyScopes)
	waitForLog(t, p, 10*time.Second, `"msg":"feature switched off: transfers"`)

	ctx := newBrowser(t)
	guid := aliceWithOneExpired(t, ctx, p)

	t.Run("reconnect", func(t *testing.T) {
		within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
		f := linkFrame(t, ctx, p.PlaidURL)
		plaidLogin(t, f, "user_good", "pass_good")
		waitFor(t, ctx, 30*time.Second, "the row to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)
	})
	t.Run("link a new account", func(t *testing.T) {
		before := allGUIDs(t, ctx)
		f := chooseInstitution(t, ctx, p, "platypus", "ins_109508")
		plaidLogin(t, f, "user_good", "pass_good")
		chooseAccount(t, f, 1)
		waitFor(t, ctx, 30*time.Second, "a new row", `document.querySelectorAll('[data-testid="account-row"]').length === `+fmt.Sprint(len(before)+1))
	})
	t.Run("the connection says transfers are not enabled", func(t *testing.T) {
		within(t, ctx, 10*time.Second, "open the reconnected connection", chromedp.Navigate(p.URL+"/accounts/"+guid), chromedp.WaitVisible(tid("transfers-off")))
		if eval[bool](t, ctx, `!!document.querySelector('[data-testid="transfer-form"]')`) {
			t.Error("a transfer form although transfers are switched off")
		}
		if got := eval[string](t, ctx, `document.querySelector('[data-testid="transfers-off"]').textContent`); !strings.Contains(got, "not enabled") {
			t.Errorf("transfers-off: got %q, want it to say they are not enabled", got)
		}
		screenshot(t, ctx, "transfers-off")
	})
	t.Run("a forged transfer request is refused and says why", func(t *testing.T) {
		c := signIn(t, p.URL, "alice@example.com", "demo-alice")
		resp, body := c.postForm("/accounts/"+guid, "/accounts/"+guid+"/transfers", url.Values{"amount": {"5"}, "side": {"deposit"}, "rail": {"ach"}})
		if resp != http.StatusForbidden || !strings.Contains(body, "not enabled") {
			t.Errorf("POST transfer: got %d %.200q, want 403 saying not enabled", resp, body)
		}
	})
	logs := p.logs()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors in the log:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"platform call failed"`) && strings.Contains(line, `"status":403`) {
			t.Errorf("a platform call was refused: %s", line)
		}
	}
}

// waitForLog polls the portal's stderr for a line containing s.
func waitForLog(t *testing.T, p *portal, d time.Duration, s string) {
	t.Helper()
	testutil.EventuallyEvery(t, d, 50*time.Millisecond, func() error {
		if logs := p.logs(); !strings.Contains(logs, s) {
			return fmt.Errorf("log line %s not seen; stderr:\n%s", s, logs)
		}
		return nil
	})
}

// logs is what the running portal has written to stderr so far.
func (p *portal) logs() string { return p.stderr.String() }

// postForm posts form with the CSRF token of the page at from, as the page's
// own form would, and returns the status and body.
func (a *apiClient) postForm(from, path string, form url.Values) (int, string) {
	a.t.Helper()
	res, body := formPost(a.t, a.c, a.base, from, path, form)
	return res.StatusCode, body
}
