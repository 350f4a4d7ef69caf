package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type adminRowInfo struct {
	GUID, State string
	BankLevel   bool
}

const adminRowsJS = `Array.from(document.querySelectorAll('[data-testid="admin-connection-row"]')).map(r => ({
	GUID: r.dataset.guid, State: r.dataset.state, BankLevel: !!r.querySelector('[data-testid="bank-level"]')}))`

// confirmAction opens an action's confirmation page from the detail page,
// confirms it, and waits for the outcome shown after the redirect.
func confirmAction(t *testing.T, ctx context.Context, action string) string {
	t.Helper()
	within(t, ctx, 20*time.Second, action,
		chromedp.Click(tid(action)),
		chromedp.WaitVisible(tid("confirm")),
		chromedp.Click(tid("confirm")),
		chromedp.WaitVisible(tid("flash")),
	)
	return eval[string](t, ctx, `document.querySelector('[data-testid="flash"]').textContent`)
}

func TestBrowserAdminTab(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	login(t, ctx, p.URL, "admin@example.com", "demo-admin")
	within(t, ctx, 15*time.Second, "admin tab", chromedp.WaitVisible(tid("admin-connections")))
	screenshot(t, ctx, "admin-tab")

	// Filter to refresh_required by clicking its count.
	within(t, ctx, 10*time.Second, "filter by count",
		chromedp.Click(chromedp.CSS(`[data-testid="state-count"][data-state="refresh_required"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="state-count"][data-state="refresh_required"].active`)))
	rows := eval[[]adminRowInfo](t, ctx, adminRowsJS)
	var expired string
	bankLevel := false
	for _, r := range rows {
		if r.State != "refresh_required" {
			t.Fatalf("filtered to refresh_required, got a %s row", r.State)
		}
		if r.BankLevel {
			bankLevel = true
		} else {
			expired = r.GUID
		}
	}
	if expired == "" || !bankLevel {
		t.Fatalf("want alice's expired connection and the organization's: got %+v", rows)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="admin-connection-row"] [data-testid="reconnect"][data-link-mode="update"]').length`); n != 1 {
		t.Fatalf("reconnect buttons on bank-level expired rows: got %d, want 1", n)
	}
	if !eval[bool](t, ctx, `!!document.querySelector('[data-testid="link-account"][data-link-mode="create"]')`) {
		t.Fatal("no Link button for the organization's own connections")
	}

	// Send alice a reminder.
	within(t, ctx, 10*time.Second, "open the expired connection", chromedp.Click(chromedp.CSS(`[data-guid="`+expired+`"] [data-testid="open"]`)),
		chromedp.WaitVisible(tid("timeline")))
	if msg := confirmAction(t, ctx, "action-remind"); !strings.Contains(msg, "alice@example.com") {
		t.Fatalf("reminder outcome: got %q", msg)
	}
	if !eval[bool](t, ctx, `Array.from(document.querySelectorAll('[data-testid="timeline-entry"]')).some(e => e.textContent.includes('Reconnect reminder'))`) {
		t.Fatal("the reminder is not on the timeline")
	}

	// Force an expiry on one of alice's connected accounts (the demo is a sandbox).
	within(t, ctx, 10*time.Second, "alice's connected accounts",
		chromedp.Navigate(p.URL+"/admin/connections?state=completed&customer=alice@example.com"), chromedp.WaitVisible(tid("admin-connection-row")))
	connected := eval[[]adminRowInfo](t, ctx, adminRowsJS)[0].GUID
	within(t, ctx, 10*time.Second, "open it", chromedp.Navigate(p.URL+"/admin/connections/"+connected), chromedp.WaitVisible(tid("timeline")))
	if msg := confirmAction(t, ctx, "action-force-refresh-required"); !strings.Contains(msg, "refresh_required") {
		t.Fatalf("force outcome: got %q", msg)
	}
	if st := eval[string](t, ctx, `document.querySelector('[data-testid="admin-connection"]').dataset.state`); st != "refresh_required" {
		t.Fatalf("state after forcing: got %s", st)
	}

	// An on-demand refresh runs in the background; the page follows it.
	confirmAction(t, ctx, "action-refresh")
	// The page follows it in place (a reload every 2 s would throw focus and scroll away).
	waitFor(t, ctx, 20*time.Second, "the page after the confirmation", `document.readyState === "complete" && !!document.querySelector('[data-testid="refresh-progress"]')`)
	wasRunning := eval[bool](t, ctx, `window.__noReload = true; document.querySelector('[data-testid="refresh-progress"]').dataset.status === "running"`)
	waitAcrossNavigation(t, ctx, 60*time.Second, "refresh outcome",
		`(() => { const p = document.querySelector('[data-testid="refresh-progress"]'); return !!p && p.dataset.status !== 'running'; })()`)
	if wasRunning && !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Error("the page reloaded itself to follow the refresh")
	}
	screenshot(t, ctx, "admin-refresh")
	if msg := eval[string](t, ctx, `document.querySelector('[data-testid="refresh-progress"]').textContent`); !strings.Contains(msg, "expired") {
		t.Fatalf("refresh of an expired login: got %q", msg)
	}

	// alice, in her own browser, sees the flag and the banners.
	actx := newBrowser(t)
	login(t, actx, p.URL, "alice@example.com", "demo-alice")
	within(t, actx, 15*time.Second, "alice's accounts", chromedp.WaitVisible(tid("account-list")))
	screenshot(t, actx, "alice-after-admin")
	if !eval[bool](t, actx, `!!document.querySelector('[data-testid="account-row"][data-guid="`+connected+`"][data-state="refresh_required"] [data-testid="needs-refresh"]')`) {
		t.Fatal("alice's page does not flag the expired connection")
	}
	kinds := eval[[]string](t, actx, `Array.from(document.querySelectorAll('[data-testid="banner"]')).map(b => b.dataset.kind)`)
	if !strings.Contains(strings.Join(kinds, ","), "reminder") || !strings.Contains(strings.Join(kinds, ","), "refresh_required") {
		t.Fatalf("alice's banners: got %v, want a reminder and a refresh_required notice", kinds)
	}

	// The emails wait in the outbox (no SMTP in the demo).
	within(t, ctx, 10*time.Second, "outbox", chromedp.Navigate(p.URL+"/admin/notifications?state=queued"), chromedp.WaitVisible(tid("outbox-email")))
	if n := eval[int](t, ctx, `Array.from(document.querySelectorAll('[data-testid="outbox-email"]')).filter(e => e.textContent.includes('alice@example.com')).length`); n < 2 {
		t.Fatalf("alice's emails in the outbox: got %d, want the reminder and the expiry notice", n)
	}
}
