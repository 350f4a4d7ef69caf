package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// bannerKinds lists the kinds of the banners on the customer's page.
const bannerKindsJS = `Array.from(document.querySelectorAll('[data-testid="banner"]')).map(b => b.dataset.kind)`

// A customer's banners belong to a connection and a reason: a reminder goes
// when the customer reconnects; after an admin disconnects a connection the
// customer sees it as Disconnected, offered "Link again" (never "Reconnect"),
// with no banner asking to reconnect it, and can hide it.
func TestBrowserBannersFollowTheConnection(t *testing.T) {
	p := startPortal(t)
	admin := newBrowser(t)
	login(t, admin, p.URL, "admin@example.com", "demo-admin")
	within(t, admin, 15*time.Second, "alice's expired connection",
		chromedp.Navigate(p.URL+"/admin/connections?state=refresh_required&customer=alice@example.com"), chromedp.WaitVisible(tid("admin-connection-row")))
	rows := adminRowStates(t, admin)
	if len(rows) != 1 {
		t.Fatalf("alice's expired connections: got %v, want 1", rows)
	}
	var guid string
	for g := range rows {
		guid = g
	}
	within(t, admin, 15*time.Second, "open it", chromedp.Navigate(p.URL+"/admin/connections/"+guid), chromedp.WaitVisible(tid("actions")))
	confirmAction(t, admin, "action-remind")

	// The customer reconnects after the reminder: no banner remains.
	alice := newBrowser(t)
	login(t, alice, p.URL, "alice@example.com", "demo-alice")
	within(t, alice, 15*time.Second, "alice's accounts", chromedp.WaitVisible(tid("account-list")))
	if kinds := strings.Join(eval[[]string](t, alice, bannerKindsJS), ","); !strings.Contains(kinds, "reminder") {
		t.Fatalf("alice's banners before reconnecting: got %q, want the reminder", kinds)
	}
	within(t, alice, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
	f := linkFrame(t, alice, p.PlaidURL)
	plaidLogin(t, f, "user_good", "pass_good")
	waitFor(t, alice, 30*time.Second, "the row to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)
	reloadUntil(t, alice, p.URL+"/accounts", 15*time.Second, "the page after reconnecting",
		`!!document.querySelector('[data-testid="account-row"][data-guid="`+guid+`"][data-state="completed"]')`)
	if kinds := eval[[]string](t, alice, bannerKindsJS); len(kinds) != 0 {
		t.Fatalf("banners after reconnecting: got %v, want none", kinds)
	}

	// It expires again (sandbox), the customer is told; then the admin disconnects it.
	within(t, admin, 15*time.Second, "open it again", chromedp.Navigate(p.URL+"/admin/connections/"+guid), chromedp.WaitVisible(tid("actions")))
	confirmAction(t, admin, "action-force-refresh-required")
	reloadUntil(t, alice, p.URL+"/accounts", 15*time.Second, "the expiry banner",
		`Array.from(document.querySelectorAll('[data-testid="banner"]')).some(b => b.dataset.kind === "refresh_required")`)
	confirmAction(t, admin, "action-disconnect")

	reloadUntil(t, alice, p.URL+"/accounts", 30*time.Second, "the connection shown as Disconnected",
		`!!document.querySelector('[data-testid="account-row"][data-guid="`+guid+`"][data-state="deleted"]')`)
	screenshot(t, alice, "disconnected-by-admin")
	row := `document.querySelector('[data-testid="account-row"][data-guid="` + guid + `"]')`
	if got := eval[string](t, alice, row+`.querySelector('[data-testid="state-badge"]').textContent.trim()`); got != "Disconnected" {
		t.Errorf("badge: got %q, want Disconnected", got)
	}
	if got := eval[string](t, alice, row+`.querySelector('[data-testid="disconnected"]').textContent`); !strings.Contains(got, "Your bank disconnected") {
		t.Errorf("reason: got %q, want it in plain words", got)
	}
	if !eval[bool](t, alice, `!!`+row+`.querySelector('[data-testid="link-again"][data-link-mode="create"]')`) {
		t.Error("no Link again on the disconnected connection")
	}
	if n := eval[int](t, alice, row+`.querySelectorAll('[data-testid="reconnect"], [data-testid="needs-refresh"]').length`); n != 0 {
		t.Errorf("reconnect offered on a disconnected connection: %d", n)
	}
	if strings.Contains(eval[string](t, alice, row+`.textContent`), "Reconnect") {
		t.Error("the disconnected row speaks of reconnecting")
	}
	if kinds := eval[[]string](t, alice, bannerKindsJS); len(kinds) != 0 {
		t.Fatalf("banners after the admin disconnected it: got %v, want none asking to reconnect", kinds)
	}

	// Once seen, the customer hides it.
	within(t, alice, 15*time.Second, "hide it", chromedp.Click(chromedp.CSS(`[data-testid="account-row"][data-guid="`+guid+`"] [data-testid="hide-connection"]`)))
	waitAcrossNavigation(t, alice, 15*time.Second, "the list without it",
		`location.pathname === "/accounts" && !!document.querySelector('[data-testid="account-list"]') && !document.querySelector('[data-testid="account-row"][data-guid="`+guid+`"]')`)
}
