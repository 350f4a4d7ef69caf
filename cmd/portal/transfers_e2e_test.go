package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// transferRowsJS lists the transfer rows of the page as "state|badge|failure".
const transferRowsJS = `Array.from(document.querySelectorAll('[data-testid="transfer-row"]')).map(function (r) {
	var f = r.querySelector('[data-testid="transfer-failure"]');
	return r.dataset.state + "|" + r.querySelector('[data-testid="transfer-state"]').textContent.trim() + "|" + (f ? f.textContent.trim() : "");
})`

func TestBrowserDepositAfterReconnect(t *testing.T) {
	p := startPortal(t, "PORTAL_SYNC_INTERVAL=2s")
	ctx := newBrowser(t)
	guid := aliceWithOneExpired(t, ctx, p)
	page := p.URL + "/accounts/" + guid

	within(t, ctx, 10*time.Second, "open the expired connection", chromedp.Navigate(page), chromedp.WaitVisible(tid("transfer-blocked")))
	if eval[bool](t, ctx, `!!document.querySelector('[data-testid="transfer-form"]')`) {
		t.Fatal("the expired connection offers a deposit form")
	}
	if got := eval[string](t, ctx, `document.querySelector('[data-testid="transfer-blocked"]').textContent`); !strings.Contains(got, "Reconnect") {
		t.Errorf("blocked reason: got %q, want it to say to reconnect", got)
	}
	screenshot(t, ctx, "transfer-blocked")

	within(t, ctx, 10*time.Second, "click Reconnect", chromedp.WaitEnabled(tid("reconnect")), chromedp.Click(tid("reconnect")))
	f := linkFrame(t, ctx, p.PlaidURL)
	plaidLogin(t, f, "user_good", "pass_good")
	waitFor(t, ctx, 30*time.Second, "the deposit form after the reconnect", `!!document.querySelector('[data-testid="transfer-form"]') && !document.querySelector('[data-testid="transfer-blocked"]')`)

	within(t, ctx, 15*time.Second, "ask for a $25.00 ACH deposit",
		chromedp.SetValue(tid("transfer-side"), "deposit"),
		chromedp.SetValue(tid("transfer-rail"), "ach"),
		chromedp.SendKeys(tid("transfer-amount"), "25.00"),
		chromedp.Click(tid("transfer-continue")),
		chromedp.WaitVisible(tid("transfer-quote")))
	if got := eval[string](t, ctx, `document.querySelector('[data-testid="transfer-quote"]').textContent`); !strings.Contains(got, "$25.00") || !strings.Contains(got, "ACH") {
		t.Fatalf("quote: got %q, want $25.00 by ACH", got)
	}
	screenshot(t, ctx, "transfer-quote")
	within(t, ctx, 15*time.Second, "confirm", chromedp.Click(tid("transfer-confirm")), chromedp.WaitVisible(tid("transfer-row")))
	reloadUntil(t, ctx, page, 30*time.Second, "the deposit to complete",
		`(function(){var r=document.querySelectorAll('[data-testid="transfer-row"]');return r.length===1&&r[0].dataset.state==="completed";})()`)
	if rows := eval[[]string](t, ctx, transferRowsJS); len(rows) != 1 || rows[0] != "completed|Completed|" {
		t.Fatalf("transfer rows: got %v, want one completed", rows)
	}
	screenshot(t, ctx, "transfer-completed")

	// First Gingham routes wires elsewhere: a wire fails, in plain words.
	within(t, ctx, 15*time.Second, "ask for a wire",
		chromedp.SetValue(tid("transfer-rail"), "wire"),
		chromedp.SendKeys(tid("transfer-amount"), "10"),
		chromedp.Click(tid("transfer-continue")),
		chromedp.WaitVisible(tid("transfer-confirm")),
		chromedp.Click(tid("transfer-confirm")),
		chromedp.WaitVisible(tid("transfer-row")))
	reloadUntil(t, ctx, page, 30*time.Second, "the wire to fail",
		`document.querySelectorAll('[data-testid="transfer-row"][data-state="failed"]').length===1`)
	if rows := eval[[]string](t, ctx, transferRowsJS); len(rows) != 2 || !strings.HasPrefix(rows[0], "failed|Failed|") || !strings.Contains(rows[0], "routing number") {
		t.Fatalf("transfer rows: got %v, want the wire failed with its reason first", rows)
	}

	within(t, ctx, 10*time.Second, "accounts page", chromedp.Navigate(p.URL+"/accounts"), chromedp.WaitVisible(tid("recent-transfers")))
	if rows := eval[[]string](t, ctx, transferRowsJS); len(rows) != 2 || rows[1] != "completed|Completed|" {
		t.Fatalf("recent transfers on the accounts page: got %v", rows)
	}
}
