package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The organization's own connections follow the finance system's flow:
// Link in update mode with account selection; accounts left unselected stop
// being active after the admin confirms, and a page says what changed.
func TestBrowserOrganizationReconnectReview(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	login(t, ctx, p.URL, "admin@example.com", "demo-admin")
	within(t, ctx, 15*time.Second, "organization's connections",
		chromedp.Navigate(p.URL+"/admin/connections?bank=1"), chromedp.WaitVisible(tid("admin-connection-row")))
	expired := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('[data-testid="admin-connection-row"][data-state="refresh_required"]')).map(r => r.dataset.guid)`)
	if len(expired) != 1 {
		t.Fatalf("organization's expired connections: got %v, want 1", expired)
	}
	if !strings.Contains(eval[string](t, ctx, `document.querySelector('[data-testid="link-warning"]').textContent`), "do not close Link") {
		t.Error("no warning against closing Link after the credentials")
	}
	before := eval[int](t, ctx, `document.querySelectorAll('[data-testid="admin-connection-row"][data-state="completed"]').length`)

	within(t, ctx, 10*time.Second, "Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+expired[0]+`"]`)))
	f := linkFrame(t, ctx, p.PlaidURL)
	plaidLogin(t, f, "user_good", "pass_good")
	inFrame(t, f, "one-time code", chromedp.WaitVisible(tid("plaid-mfa-code")), chromedp.SendKeys(tid("plaid-mfa-code"), "1234"), clickIn(tid("plaid-submit")))
	inFrame(t, f, "account selection", chromedp.WaitVisible(tid("plaid-account")))
	offered := eval[string](t, f, `Array.from(document.querySelectorAll('[data-testid="plaid-account"]')).map(i => i.type + ':' + i.checked).join(',')`)
	if offered != "checkbox:true,checkbox:false" {
		t.Fatalf("accounts offered in update mode: got %s, want checkboxes with the shared one checked", offered)
	}
	inFrame(t, f, "keep the selection", clickIn(tid("plaid-submit")))

	// The review names the organization's connection at that bank that was not selected.
	waitAcrossNavigation(t, ctx, 30*time.Second, "the review page", `location.pathname.indexOf("/admin/link/") === 0 && !!document.querySelector('[data-testid="review-unselected"]')`)
	unselected := eval[string](t, ctx, `document.querySelector('[data-testid="review-unselected"]').textContent`)
	if !strings.Contains(unselected, "Tattersall Share Savings") {
		t.Fatalf("unselected: got %q, want the savings connection", unselected)
	}
	screenshot(t, ctx, "org-review")
	within(t, ctx, 15*time.Second, "confirm", chromedp.Click(tid("confirm")), chromedp.WaitVisible(tid("review-done")))
	updated := eval[string](t, ctx, `document.querySelector('[data-testid="review-updated"]').textContent`)
	deactivated := eval[string](t, ctx, `document.querySelector('[data-testid="review-deactivated"]').textContent`)
	if !strings.Contains(updated, "Tattersall Share Draft") || !strings.Contains(deactivated, "Tattersall Share Savings") {
		t.Fatalf("confirmation: updated %q, deactivated %q", updated, deactivated)
	}

	// The reconnected one works again; the deactivated one is being disconnected.
	reloadUntil(t, ctx, p.URL+"/admin/connections?bank=1", 30*time.Second, "states after the review",
		`!!document.querySelector('[data-testid="admin-connection-row"][data-guid="`+expired[0]+`"][data-state="completed"]') &&
		 document.querySelectorAll('[data-testid="admin-connection-row"][data-state="deleted"], [data-testid="admin-connection-row"][data-state="deleting"]').length === 1`)
	if after := eval[int](t, ctx, `document.querySelectorAll('[data-testid="admin-connection-row"][data-state="completed"]').length`); after != before {
		t.Fatalf("connected organization connections: got %d, want %d (one reconnected, one deactivated)", after, before)
	}
}
