package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// recordCSPViolations makes every page of this browser keep the CSP
// violations it meets (window.__csp), so a check can assert there were none:
// htmx injecting its indicator style or evaluating code would be one.
func recordCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	add := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`})
		return chromedp.Void{}, err
	}
	within(t, ctx, 10*time.Second, "record CSP violations", add)
}

// press sends one key to whatever has focus, as a person at the keyboard does.
func press(t *testing.T, ctx context.Context, key string) {
	t.Helper()
	within(t, ctx, 15*time.Second, "press "+key, chromedp.KeyEvent(key))
}

// A keyboard user on a page that refreshes itself: focus survives the
// refreshes, Link opens from the keyboard, the page behind it is out of
// reach, and Escape brings focus back to where it was.
func TestBrowserKeyboardJourney(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	login(t, ctx, p.URL, "alice@example.com", "demo-alice")
	within(t, ctx, 20*time.Second, "open the accounts page",
		chromedp.Navigate(p.URL+"/accounts"),
		chromedp.WaitVisible(tid("reconnect")))
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="account-row"][data-state="storing"]').length`); n == 0 {
		t.Fatal("no Pending row: the page would not refresh itself")
	}
	// Count the live refreshes, to know the page really refreshed under the focus.
	eval[bool](t, ctx, `window.__settles = 0; document.addEventListener("htmx:afterSettle", () => window.__settles++); true`)

	const onReconnect = `document.activeElement && document.activeElement.getAttribute("data-testid") === "reconnect"`
	for i := 0; i < 40 && !eval[bool](t, ctx, onReconnect); i++ {
		press(t, ctx, kb.Tab)
	}
	if !eval[bool](t, ctx, onReconnect) {
		t.Fatalf("Tab never reached Reconnect; focus is on %s", eval[string](t, ctx, `document.activeElement.outerHTML.slice(0, 120)`))
	}
	guid := eval[string](t, ctx, `document.activeElement.getAttribute("data-guid")`)

	// The page polls every 2 s while a row is Pending: three refreshes are 6 s.
	waitFor(t, ctx, 60*time.Second, "three live refreshes", `window.__settles >= 3`)
	if !eval[bool](t, ctx, onReconnect) {
		t.Fatalf("focus left Reconnect during the refreshes; it is on %s", eval[string](t, ctx, `document.activeElement.outerHTML.slice(0, 120)`))
	}

	press(t, ctx, kb.Enter)
	const linkOpen = `(() => { const f = document.querySelector('[data-testid="plaid-link-iframe"]'); return !!f && getComputedStyle(f).display !== "none"; })()`
	waitFor(t, ctx, 45*time.Second, "Link to open from the keyboard", linkOpen)
	frame := linkFrame(t, ctx, p.PlaidURL)
	inFrame(t, frame, "the credentials form, focused",
		chromedp.WaitVisible(tid("plaid-username")))
	waitFor(t, ctx, 20*time.Second, "focus inside Link", `document.activeElement === document.querySelector('[data-testid="plaid-link-iframe"]')`)
	if eval[bool](t, ctx, `!document.querySelector("main").inert || !document.querySelector("header").inert`) {
		t.Error("the page behind Link is not inert")
	}

	for i := 0; i < 12; i++ {
		press(t, ctx, kb.Tab)
		if where := eval[string](t, ctx, `document.activeElement === document.querySelector('[data-testid="plaid-link-iframe"]') ? "" : document.activeElement.outerHTML.slice(0, 120)`); where != "" {
			t.Fatalf("Tab %d while Link is open reached the page behind: %s", i+1, where)
		}
	}

	press(t, ctx, kb.Escape)
	waitFor(t, ctx, 30*time.Second, "Escape to close Link", `!`+linkOpen)
	waitFor(t, ctx, 30*time.Second, "focus back on Reconnect",
		onReconnect+` && document.activeElement.getAttribute("data-guid") === `+jsQuote(guid))
	if eval[bool](t, ctx, `document.querySelector("main").inert`) {
		t.Error("the page stayed inert after Link closed")
	}
	if got, _, _ := strings.Cut(rowState(t, ctx, guid), "|"); got != "refresh_required" {
		t.Errorf("row %s after Escape: state %q, want refresh_required (nothing changed)", guid, got)
	}

	// Signed out meanwhile (the session cookie gone): the refreshes get the
	// sign-in page, which must not blank the list.
	clearCookies := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
		return chromedp.Void{}, err
	}
	eval[bool](t, ctx, `window.__answers = 0; document.addEventListener("htmx:afterRequest", () => window.__answers++); true`)
	within(t, ctx, 10*time.Second, "drop the session cookie", clearCookies)
	waitFor(t, ctx, 60*time.Second, "two refreshes after the sign-out", `window.__answers >= 2`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#live [data-testid="account-row"]').length`); n == 0 {
		t.Error("a refresh answered by the sign-in page blanked the list")
	}
}

// signOut uses the page's Sign out button.
func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	within(t, ctx, 20*time.Second, "sign out", chromedp.WaitVisible(tid("logout")), chromedp.Click(tid("logout")))
	waitAcrossNavigation(t, ctx, 20*time.Second, "the signed-out page", `document.readyState === "complete" && !document.querySelector('[data-testid="logout"]')`)
}

// axeSource finds axe-core, installed by .ci/run with npm ci in testdata/axe.
func axeSource(t *testing.T) string {
	t.Helper()
	path := filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_BROWSER") != "" {
			t.Fatalf("axe-core is required: %v (run: npm ci --prefix cmd/portal/testdata/axe)", err)
		}
		t.Skipf("axe-core not installed (%v): run npm ci --prefix cmd/portal/testdata/axe", err)
	}
	return string(b)
}

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkPage asserts that the page in ctx fits the viewport without
// horizontal scrolling (when narrow) and that axe-core finds no serious or
// critical violation.
func checkPage(t *testing.T, ctx context.Context, axe, name string, width int64) {
	t.Helper()
	if width <= 480 {
		if wide := eval[[]string](t, ctx, `(() => {
			const out = [], de = document.documentElement, vw = de.clientWidth;
			if (de.scrollWidth > vw) out.push("document: scrollWidth " + de.scrollWidth + " > clientWidth " + vw);
			for (const el of document.body.querySelectorAll("*")) {
				const r = el.getBoundingClientRect();
				if (r.width === 0 || r.height === 0) continue;
				if (r.right > vw + 0.5 || r.left < -0.5 || r.width > vw + 0.5) {
					out.push(el.tagName.toLowerCase() + (el.className ? "." + String(el.className).replace(/ /g, ".") : "") +
						" [" + Math.round(r.left) + ".." + Math.round(r.right) + "] " + (el.textContent || "").trim().slice(0, 40));
				}
			}
			return out.slice(0, 8);
		})()`); len(wide) > 0 {
			t.Errorf("%s at %d px: wider than the screen:\n  %s", name, width, strings.Join(wide, "\n  "))
		}
	}
	if v := eval[[]string](t, ctx, `window.__csp || ["the recorder did not run"]`); len(v) > 0 {
		t.Errorf("%s at %d px: CSP violations: %v", name, width, v)
	}
	if !eval[bool](t, ctx, `typeof window.axe === "object"`) {
		eval[bool](t, ctx, axe+"\n;true")
	}
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	vs, err := chromedp.Run(c, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
			id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " ").slice(0, 200))})))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s at %d px: axe.run: %v", name, width, err)
	}
	for _, v := range vs {
		t.Errorf("%s at %d px: axe %s (%s): %s\n  %s", name, width, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	screenshot(t, ctx, fmt.Sprintf("a11y-%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(name), width))
}

// Every page of the three demo roles, including the Link overlay, the
// transfer form and its outcomes, and the error pages, on a phone (360 px)
// and a desktop (1280 px): nothing wider than the screen, no serious or
// critical axe-core violation.
func TestBrowserEveryPageFitsAndPassesAxe(t *testing.T) {
	axe := axeSource(t)
	p := startPortal(t)
	for _, width := range []int64{360, 1280} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			ctx := newBrowser(t)
			recordCSPViolations(t, ctx)
			within(t, ctx, 10*time.Second, "set the viewport", chromedp.EmulateViewport(width, 800))
			visit := func(name, url, ready string) {
				t.Helper()
				within(t, ctx, 30*time.Second, "open "+name, chromedp.Navigate(url))
				// Polled across navigations: a page may still be settling (a redirect,
				// the previous page's last request) when the poll starts.
				waitAcrossNavigation(t, ctx, 30*time.Second, name+" to be ready", `document.readyState === "complete" && (`+ready+`)`)
				checkPage(t, ctx, axe, name, width)
			}

			visit("login", p.URL+"/login", `!!document.querySelector("#email")`)
			visit("404 signed out", p.URL+"/no-such-page", `!!document.querySelector('[data-testid="error-page"]')`)
			within(t, ctx, 20*time.Second, "a wrong password",
				chromedp.Navigate(p.URL+"/login"),
				chromedp.WaitVisible(chromedp.CSS(`#email`)),
				chromedp.SendKeys(chromedp.CSS(`#email`), "alice@example.com"),
				chromedp.SendKeys(chromedp.CSS(`#password`), "wrong"),
				chromedp.Click(tid("login-submit")))
			waitAcrossNavigation(t, ctx, 20*time.Second, "the refusal", `!!document.querySelector('[data-testid="login-error"]')`)
			checkPage(t, ctx, axe, "login refused", width)

			// alice: every state, the Link overlay, the transfer form and its outcomes.
			login(t, ctx, p.URL, "alice@example.com", "demo-alice")
			visit("alice accounts", p.URL+"/accounts", `!!document.querySelector('[data-testid="account-row"]')`)
			connected := eval[string](t, ctx, `(document.querySelector('[data-testid="account-row"][data-state="completed"]') || {dataset: {}}).dataset.guid || ""`)
			expired := eval[string](t, ctx, `(document.querySelector('[data-testid="account-row"][data-state="refresh_required"]') || {dataset: {}}).dataset.guid || ""`)
			if connected == "" || expired == "" {
				t.Fatalf("alice's demo rows: connected %q, expired %q", connected, expired)
			}
			others := map[string]string{}
			for _, s := range []string{"storing", "unverified"} {
				others[s] = eval[string](t, ctx, `(document.querySelector('[data-testid="account-row"][data-state="`+s+`"]') || {dataset: {}}).dataset.guid || ""`)
			}
			for s, g := range others {
				if g == "" {
					t.Fatalf("alice has no %s connection", s)
				}
				visit("alice "+s+" connection", p.URL+"/accounts/"+g, `!!document.querySelector('[data-testid="account-detail"]')`)
			}
			visit("alice expired connection", p.URL+"/accounts/"+expired, `!!document.querySelector('[data-testid="needs-refresh"]')`)
			visit("alice transfer form", p.URL+"/accounts/"+connected, `!!document.querySelector('[data-testid="transfer-form"]')`)

			within(t, ctx, 20*time.Second, "a refused amount",
				chromedp.SendKeys(tid("transfer-amount"), "lots"),
				chromedp.Click(tid("transfer-continue")))
			waitAcrossNavigation(t, ctx, 20*time.Second, "the refusal", `!!document.querySelector('[data-testid="transfer-error"]')`)
			checkPage(t, ctx, axe, "transfer refused", width)

			within(t, ctx, 20*time.Second, "a quote",
				chromedp.Navigate(p.URL+"/accounts/"+connected),
				chromedp.WaitVisible(tid("transfer-amount")),
				chromedp.SendKeys(tid("transfer-amount"), "10000"),
				chromedp.Click(tid("transfer-continue")))
			waitAcrossNavigation(t, ctx, 20*time.Second, "the quote", `!!document.querySelector('[data-testid="transfer-confirm"]')`)
			checkPage(t, ctx, axe, "transfer quote", width)
			within(t, ctx, 20*time.Second, "confirm", chromedp.Click(tid("transfer-confirm")))
			waitAcrossNavigation(t, ctx, 20*time.Second, "the confirmation", `!!document.querySelector('[data-testid="transfer-row"]') && location.pathname.startsWith("/accounts/")`)
			checkPage(t, ctx, axe, "transfer confirmed", width)

			visit("OAuth return without a Link session", p.URL+"/link/oauth-return", `(() => { const e = document.querySelector('[data-testid="link-error"]'); return !!e && !e.classList.contains("hidden"); })()`)
			visit("alice 404", p.URL+"/accounts/00000000-0000-0000-0000-000000000000", `!!document.querySelector('[data-testid="error-page"]')`)
			visit("alice in admin (403)", p.URL+"/admin/connections", `!!document.querySelector('[data-testid="error-page"]')`)

			within(t, ctx, 20*time.Second, "open Link",
				chromedp.Navigate(p.URL+"/accounts"),
				chromedp.WaitVisible(tid("link-account")),
				chromedp.Click(tid("link-account")))
			frame := linkFrame(t, ctx, p.PlaidURL)
			inFrame(t, frame, "the institution search", chromedp.WaitVisible(chromedp.CSS(`[role="dialog"][aria-modal="true"][aria-label]`)))
			checkPage(t, ctx, axe, "Link overlay", width)
			if over := eval[string](t, frame, `(() => { const d = document.querySelector('[role="dialog"]').getBoundingClientRect(), de = document.documentElement;
				return de.scrollWidth > de.clientWidth || d.right > de.clientWidth || d.left < 0 ? "dialog [" + d.left + ".." + d.right + "] in " + de.clientWidth : ""; })()`); over != "" {
				t.Errorf("Link at %d px: %s", width, over)
			}
			inFrame(t, frame, "close Link", clickIn(tid("plaid-close")))
			waitFor(t, ctx, 20*time.Second, "Link to close", `!document.querySelector("main").inert`)

			// bob: a connected and a failed connection.
			signOut(t, ctx)
			login(t, ctx, p.URL, "bob@example.com", "demo-bob")
			visit("bob accounts", p.URL+"/accounts", `!!document.querySelector('[data-testid="account-row"]')`)
			failed := eval[string](t, ctx, `(document.querySelector('[data-testid="account-row"][data-state="failed"]') || {dataset: {}}).dataset.guid || ""`)
			if failed != "" {
				visit("bob failed connection", p.URL+"/accounts/"+failed, `!!document.querySelector('[data-testid="failure"]')`)
			}
			visit("bob on alice's connection (404)", p.URL+"/accounts/"+connected, `!!document.querySelector('[data-testid="error-page"]')`)

			// admin: the tab, a filter, a connection, a confirmation, the outbox.
			signOut(t, ctx)
			login(t, ctx, p.URL, "admin@example.com", "demo-admin")
			visit("admin connections", p.URL+"/admin/connections", `!!document.querySelector('[data-testid="admin-connection-row"]')`)
			visit("admin filtered", p.URL+"/admin/connections?state=refresh_required", `!!document.querySelector('[data-testid="filters"]')`)
			visit("admin connection", p.URL+"/admin/connections/"+expired, `!!document.querySelector('[data-testid="admin-connection"]')`)
			visit("admin confirmation", p.URL+"/admin/connections/"+expired+"/confirm/remind", `!!document.querySelector('[data-testid="confirm"]')`)
			within(t, ctx, 20*time.Second, "send the reminder", chromedp.Click(tid("confirm")))
			waitAcrossNavigation(t, ctx, 20*time.Second, "the result", `!!document.querySelector('[data-testid="flash"]')`)
			checkPage(t, ctx, axe, "admin action done", width)
			visit("admin notifications", p.URL+"/admin/notifications", `!!document.querySelector('[data-testid="outbox-email"]')`)
			visit("admin 404", p.URL+"/admin/nothing-here", `!!document.querySelector('[data-testid="error-page"]')`)
		})
	}
}
