package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The accounts page's weight in a real browser (budget of the performance
// issue): at most 5 requests and 60 KB over the wire, Plaid's script aside,
// with text assets compressed (htmx and idiomorph ride in the Link glue's bundle).
// Sizes and counts only: speed is measured by cmd/bench, never by a test.
func TestBrowserAccountsPageWeight(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	login(t, ctx, p.URL, "alice@example.com", "demo-alice")
	// The login page cached the stylesheet and scripts: drop them, so every
	// byte of the accounts page counts, as on a first visit.
	clearCache := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCache, cdp.Empty{})
		return chromedp.Void{}, err
	}
	within(t, ctx, 20*time.Second, "open the accounts page with an empty cache",
		clearCache,
		chromedp.Navigate(p.URL+"/accounts"),
		chromedp.WaitVisible(tid("account-row")))
	waitFor(t, ctx, 20*time.Second, "the page to finish loading", `document.readyState === "complete"`)

	type entry struct {
		Name     string  `json:"name"`
		Transfer float64 `json:"transfer"`
		Encoded  float64 `json:"encoded"`
	}
	// The navigation itself plus every resource it pulled, each with what it
	// cost on the wire (or its body size when the headers were not counted).
	entries := eval[[]entry](t, ctx, `[
		...performance.getEntriesByType('navigation'),
		...performance.getEntriesByType('resource'),
	].map(e => ({name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize}))`)
	if len(entries) == 0 || !strings.Contains(entries[0].Name, "/accounts") {
		t.Fatalf("no navigation entry for /accounts: %+v", entries)
	}
	plaidOrigin := strings.TrimSuffix(p.PlaidURL, "/")
	var requests int
	var bytes float64
	for _, e := range entries {
		if plaidOrigin != "" && strings.HasPrefix(e.Name, plaidOrigin+"/") {
			continue // Plaid's script and frame are not the portal's weight
		}
		if strings.Contains(e.Name, "/static/demo.") {
			continue // the Demo controls' own files exist in the demo only, never in live mode
		}
		requests++
		bytes += max(e.Transfer, e.Encoded)
		t.Logf("%s: %.0f bytes on the wire (%.0f body)", e.Name, e.Transfer, e.Encoded)
	}
	if requests > 5 {
		t.Errorf("the accounts page made %d requests, want at most 5: %+v", requests, entries)
	}
	if bytes > 60*1024 {
		t.Errorf("the accounts page weighs %.0f bytes, want at most %d", bytes, 60*1024)
	}
	if bytes == 0 {
		t.Errorf("no sizes reported: %+v", entries)
	}
	t.Logf("accounts page: %d requests, %.1f KB (Plaid's script aside)", requests, bytes/1024)
}
