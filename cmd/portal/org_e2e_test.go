package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// adminRowStates reads every row of the admin tab as guid → state.
func adminRowStates(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range eval[[][2]string](t, ctx, `Array.from(document.querySelectorAll('[data-testid="admin-connection-row"]')).map(r => [r.dataset.guid, r.dataset.state])`) {
		out[r[0]] = r[1]
	}
	return out
}

// The organization's own connections (seed 001): an admin updates one of two
// connections at the same bank with the standing "Update connection" action,
// de-selects its account in Link and confirms. Link's selection speaks only
// for the connection Link opened: exactly that one ends deleted, the other
// connection at that bank (and every other) is unchanged.
func TestBrowserOrganizationUpdateTouchesOnlyThatConnection(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	login(t, ctx, p.URL, "admin@example.com", "demo-admin")
	within(t, ctx, 15*time.Second, "organization's connections",
		chromedp.Navigate(p.URL+"/admin/connections?bank=1&institution=ins_109510"), chromedp.WaitVisible(tid("admin-connection-row")))
	if !strings.Contains(eval[string](t, ctx, `document.querySelector('[data-testid="link-warning"]').textContent`), "do not close Link") {
		t.Error("no warning against closing Link after the credentials")
	}
	atBank := adminRowStates(t, ctx)
	var target, other string
	for g, s := range atBank {
		switch s {
		case "completed":
			target = g
		case "refresh_required":
			other = g
		}
	}
	if len(atBank) != 2 || target == "" || other == "" {
		t.Fatalf("the organization's connections at Tattersall: got %v, want one connected and one expired", atBank)
	}
	within(t, ctx, 15*time.Second, "every connection", chromedp.Navigate(p.URL+"/admin/connections"), chromedp.WaitVisible(tid("admin-connection-row")))
	before := adminRowStates(t, ctx)

	// The standing action: the connection works, and can still be updated ahead of an expiry.
	within(t, ctx, 15*time.Second, "the connection's page", chromedp.Navigate(p.URL+"/admin/connections/"+target), chromedp.WaitVisible(tid("actions")))
	within(t, ctx, 10*time.Second, "Update connection", chromedp.Click(chromedp.CSS(`[data-testid="action-update"][data-guid="`+target+`"]`)))
	f := linkFrame(t, ctx, p.PlaidURL)
	plaidLogin(t, f, "user_good", "pass_good")
	inFrame(t, f, "one-time code", chromedp.WaitVisible(tid("plaid-mfa-code")), chromedp.SendKeys(tid("plaid-mfa-code"), "1234"), clickIn(tid("plaid-submit")))
	inFrame(t, f, "account selection", chromedp.WaitVisible(tid("plaid-account")))
	offered := eval[string](t, f, `Array.from(document.querySelectorAll('[data-testid="plaid-account"]')).map(i => i.type + ':' + i.checked).join(',')`)
	if offered != "checkbox:false,checkbox:true" {
		t.Fatalf("accounts offered in update mode: got %s, want checkboxes with the connection's own (savings) checked", offered)
	}
	// De-select the connection's own account; keep the other one of the login selected.
	// Select the login's other account and de-select the connection's own.
	eval[bool](t, f, `(() => { const b = document.querySelectorAll('[data-testid="plaid-account"]'); b[0].click(); b[1].click(); return true; })()`)
	if now := eval[string](t, f, `Array.from(document.querySelectorAll('[data-testid="plaid-account"]')).map(i => String(i.checked)).join(',')`); now != "true,false" {
		t.Fatalf("selection before continuing: got %s", now)
	}
	inFrame(t, f, "continue", clickIn(tid("plaid-submit")))

	// The review names only the updated connection, nothing was PATCHed yet.
	waitAcrossNavigation(t, ctx, 30*time.Second, "the review page", `location.pathname.indexOf("/admin/link/") === 0 && !!document.querySelector('[data-testid="review-unselected"]')`)
	listed := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('[data-testid="review-unselected-item"]')).map(i => i.dataset.guid)`)
	if len(listed) != 1 || listed[0] != target {
		t.Fatalf("listed for disconnecting: got %v, want only %s", listed, target)
	}
	screenshot(t, ctx, "org-review")
	within(t, ctx, 15*time.Second, "confirm", chromedp.Click(tid("confirm")), chromedp.WaitVisible(tid("review-done")))
	if got := eval[string](t, ctx, `document.querySelector('[data-testid="review-deactivated-item"]').dataset.guid`); got != target {
		t.Fatalf("disconnected: got %s, want %s", got, target)
	}

	// Exactly that connection ends deleted; every other connection is as it was.
	reloadUntil(t, ctx, p.URL+"/admin/connections", 30*time.Second, "the updated connection deleted",
		`!!document.querySelector('[data-testid="admin-connection-row"][data-guid="`+target+`"][data-state="deleted"]')`)
	after := adminRowStates(t, ctx)
	for g, s := range before {
		if g != target && after[g] != s {
			t.Errorf("connection %s (not the one updated): got %s, want %s as before", g, after[g], s)
		}
	}
	if after[other] != "refresh_required" {
		t.Errorf("the other connection at that bank: got %s, want refresh_required", after[other])
	}
	// A disconnected connection offers no update.
	within(t, ctx, 15*time.Second, "the deleted connection's page", chromedp.Navigate(p.URL+"/admin/connections/"+target), chromedp.WaitVisible(tid("obsolete")))
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="action-update"], [data-testid="action-disconnect"]').length`); n != 0 {
		t.Errorf("actions offered on a disconnected connection: got %d, want none", n)
	}
}
