package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type rowInfo struct {
	GUID, State, Badge string
	Flag               bool
}

const rowsJS = `Array.from(document.querySelectorAll('[data-testid="account-row"]')).map(r => ({
	GUID: r.dataset.guid, State: r.dataset.state,
	Badge: (r.querySelector('[data-testid="state-badge"]') || {}).textContent || '',
	Flag: !!r.querySelector('[data-testid="needs-refresh"]')}))`

func TestBrowserLoginAndAccounts(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)

	// A wrong password gives a clear message.
	login(t, ctx, p.URL, "alice@example.com", "not-her-password")
	within(t, ctx, 10*time.Second, "login error", chromedp.WaitVisible(tid("login-error")))
	if msg := eval[string](t, ctx, `document.querySelector('[data-testid="login-error"]').textContent`); !strings.Contains(msg, "do not match") {
		t.Fatalf("wrong password message: got %q", msg)
	}

	login(t, ctx, p.URL, "alice@example.com", "demo-alice")
	within(t, ctx, 10*time.Second, "accounts page", chromedp.WaitVisible(tid("account-list")))
	screenshot(t, ctx, "accounts-alice")
	rows := eval[[]rowInfo](t, ctx, rowsJS)
	want := map[string]string{"completed": "Connected", "refresh_required": "Refresh required", "unverified": "Unverified", "storing": "Pending"}
	if len(rows) != 4 {
		t.Fatalf("alice's rows: got %d (%+v), want 4", len(rows), rows)
	}
	if rows[0].State != "refresh_required" {
		t.Errorf("first row: got %s, want the one that needs attention", rows[0].State)
	}
	for _, r := range rows {
		if want[r.State] != strings.TrimSpace(r.Badge) {
			t.Errorf("badge of %s: got %q, want %q", r.State, r.Badge, want[r.State])
		}
		if r.Flag != (r.State == "refresh_required") {
			t.Errorf("refresh flag on %s: got %v", r.State, r.Flag)
		}
	}

	// alice cannot reach the admin area.
	within(t, ctx, 10*time.Second, "alice opens /admin", chromedp.Navigate(p.URL+"/admin/connections"), chromedp.WaitVisible(tid("error-page")))
	if h := eval[string](t, ctx, `document.querySelector('h1').textContent`); h != "Not allowed" {
		t.Fatalf("alice under /admin: got heading %q, want Not allowed", h)
	}

	// bob never sees alice's connections, and her guids are 404 for him.
	within(t, ctx, 10*time.Second, "logout", chromedp.Navigate(p.URL+"/accounts"), chromedp.Click(tid("logout")), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	login(t, ctx, p.URL, "bob@example.com", "demo-bob")
	within(t, ctx, 10*time.Second, "bob's accounts", chromedp.WaitVisible(tid("account-list")))
	bobRows := eval[[]rowInfo](t, ctx, rowsJS)
	for _, b := range bobRows {
		for _, a := range rows {
			if a.GUID == b.GUID {
				t.Fatalf("bob sees alice's connection %s", a.GUID)
			}
		}
	}
	for _, a := range rows {
		within(t, ctx, 10*time.Second, "bob opens alice's account", chromedp.Navigate(p.URL+"/accounts/"+a.GUID), chromedp.WaitVisible(tid("error-page")))
		if h := eval[string](t, ctx, `document.querySelector('h1').textContent`); h != "Page not found" {
			t.Fatalf("bob on alice's %s: got %q, want Page not found", a.GUID, h)
		}
	}

	// The 6th wrong password in a minute is throttled, even with the right one.
	within(t, ctx, 10*time.Second, "logout bob", chromedp.Navigate(p.URL+"/accounts"), chromedp.Click(tid("logout")), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	for i := 0; i < 5; i++ {
		login(t, ctx, p.URL, "bob@example.com", "wrong-"+strings.Repeat("x", i))
		within(t, ctx, 10*time.Second, "login error", chromedp.WaitVisible(tid("login-error")))
	}
	login(t, ctx, p.URL, "bob@example.com", "demo-bob")
	within(t, ctx, 10*time.Second, "throttle message", chromedp.WaitVisible(tid("login-error")))
	if msg := eval[string](t, ctx, `document.querySelector('[data-testid="login-error"]').textContent`); !strings.Contains(msg, "Too many") {
		t.Fatalf("6th attempt: got %q, want the throttle message", msg)
	}
}
