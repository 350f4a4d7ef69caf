package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bankconnections/portal/internal/testutil"
)

// panelClick opens the Demo controls (a <details>) and clicks one of its buttons.
func panelClick(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	// While Link's flow is still finishing the page (the panel too) is inert
	// and a click does nothing, for the test as for a presenter: wait it out.
	waitFor(t, ctx, 60*time.Second, "the page to take clicks again", `!document.querySelector('[inert]')`)
	within(t, ctx, 15*time.Second, "Demo controls: "+sel,
		chromedp.WaitVisible(tid("demo-controls")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="demo-panel"]').open = true`),
		clickIn(chromedp.CSS(sel)))
}

// statusSays waits for the panel's answer to an action.
func statusSays(t *testing.T, ctx context.Context, what, text string) {
	t.Helper()
	testutil.EventuallyEvery(t, 40*time.Second, 200*time.Millisecond, func() error {
		got := eval[string](t, ctx, `(document.querySelector('[data-testid="demo-status"]')||{}).textContent || ""`)
		if !strings.Contains(got, text) {
			return fmt.Errorf("waiting for %s: the panel says %q, want %q in it", what, got, text)
		}
		// The answer is shown, then the page's live part refreshes (htmx): wait
		// for that too, so the next click does not land on a moving page.
		if eval[bool](t, ctx, `!!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')`) {
			return fmt.Errorf("waiting for %s: the page is still refreshing", what)
		}
		return nil
	})
}

// TestBrowserDemoControls gives the demo as a salesperson would, with the
// panel only: sign in as alice, expire a connection and watch it flag without
// a reload, take the platform down, reconnect (Finishing…), recover
// (Connected), and reset to the seeded state.
func TestBrowserDemoControls(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	within(t, ctx, 20*time.Second, "first visit", chromedp.Navigate(p.URL), chromedp.WaitVisible(tid("demo-controls")))

	t.Run("the guided tour shows once", func(t *testing.T) {
		screenshot(t, ctx, "demo-tour")
		if got := eval[string](t, ctx, `(document.querySelector('[data-testid="demo-tour"]')||{dataset:{}}).dataset.step || ""`); got != "1" {
			t.Fatalf("tour step on the first visit: got %q, want 1", got)
		}
		within(t, ctx, 15*time.Second, "tour: next", clickIn(tid("tour-next")))
		waitAcrossNavigation(t, ctx, 15*time.Second, "tour step 2", `document.readyState === "complete" && (document.querySelector('[data-testid="demo-tour"]')||{dataset:{}}).dataset.step === "2"`)
		within(t, ctx, 15*time.Second, "tour: close", clickIn(tid("tour-dismiss")))
		waitAcrossNavigation(t, ctx, 15*time.Second, "the tour closed", `document.readyState === "complete" && !!document.querySelector('[data-testid="demo-controls"]') && !document.querySelector('[data-testid="demo-tour"]')`)
		within(t, ctx, 15*time.Second, "reload", chromedp.Navigate(p.URL+"/login"), chromedp.WaitVisible(tid("demo-controls")))
		if eval[bool](t, ctx, `!!document.querySelector('[data-testid="demo-tour"]')`) {
			t.Fatal("the tour came back after it was closed")
		}
	})

	panelClick(t, ctx, `[data-testid="demo-switch"][data-email="alice@example.com"]`)
	waitAcrossNavigation(t, ctx, 20*time.Second, "alice's accounts", `location.pathname === "/accounts" && document.querySelectorAll('[data-testid="account-row"]').length === 4`)
	seededExpired := guidsInState(t, ctx, "refresh_required")
	if len(seededExpired) != 1 {
		t.Fatalf("alice's expired connections: got %v, want 1", seededExpired)
	}
	expired := seededExpired[0]
	connected := guidsInState(t, ctx, "completed")
	if len(connected) != 1 {
		t.Fatalf("alice's connected connections: got %v, want 1", connected)
	}
	banners := eval[int](t, ctx, `document.querySelectorAll('[data-testid="banner"]').length`)
	eval[bool](t, ctx, `window.__noReload = true`)
	eval[bool](t, ctx, `document.querySelector('[data-testid="demo-panel"]').open = true`)
	screenshot(t, ctx, "demo-panel")

	t.Run("expire a connection: the row flags without a reload", func(t *testing.T) {
		panelClick(t, ctx, tidSel("demo-expire"))
		waitFor(t, ctx, 30*time.Second, "the row to flag", rowStateJS+`(`+jsQuote(connected[0])+`) === "refresh_required|Refresh required|flag|"`)
		waitFor(t, ctx, 10*time.Second, "a new banner", `document.querySelectorAll('[data-testid="banner"]').length > `+itoa(banners))
		screenshot(t, ctx, "demo-expired")
	})

	t.Run("platform down: reconnect waits with Finishing…, then Connected after recovery", func(t *testing.T) {
		panelClick(t, ctx, tidSel("demo-fail"))
		statusSays(t, ctx, "the outage", "answers 500")
		within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+expired+`"]`)))
		f := linkFrame(t, ctx, p.PlaidURL)
		plaidLogin(t, f, "user_good", "pass_good")
		waitFor(t, ctx, 60*time.Second, "Finishing…", rowStateJS+`(`+jsQuote(expired)+`).endsWith("|finishing")`)
		screenshot(t, ctx, "demo-finishing")
		panelClick(t, ctx, tidSel("demo-recover"))
		statusSays(t, ctx, "the recovery", "The platform is back")
		waitFor(t, ctx, 60*time.Second, "Connected", rowStateJS+`(`+jsQuote(expired)+`) === "completed|Connected||"`)
	})

	t.Run("slow platform: the page shows progress, then Link opens", func(t *testing.T) {
		panelClick(t, ctx, tidSel("demo-slow"))
		statusSays(t, ctx, "the slowdown", "10 s")
		if story := eval[string](t, ctx, `document.querySelector('[data-testid="demo-story"]').textContent`); !strings.Contains(story, "slow") {
			t.Errorf("the panel's story after the slowdown: %q, want it to say the platform is slow", story)
		}
		// The answer floats over the page's corner, where this row now is (rows
		// keep their places): click it away first, as a presenter would.
		within(t, ctx, 10*time.Second, "click the answer away", chromedp.Click(tid("demo-status")))
		within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+connected[0]+`"]`)))
		waitFor(t, ctx, 5*time.Second, "the progress", `!document.querySelector('[data-testid="link-progress"]').classList.contains("hidden")`)
		f := linkFrame(t, ctx, p.PlaidURL)
		inFrame(t, f, "close Link", clickIn(tid("plaid-close")))
		waitFor(t, ctx, 15*time.Second, "Link to close", `!Array.from(document.querySelectorAll('[data-testid="plaid-link-iframe"]')).some(function (f) { return f.style.display !== "none"; })`)
		panelClick(t, ctx, tidSel("demo-recover"))
		statusSays(t, ctx, "the recovery", "The platform is back")
	})
	if !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("the page was reloaded during the stories")
	}

	t.Run("reset: the seeded state again", func(t *testing.T) {
		panelClick(t, ctx, tidSel("demo-reset"))
		waitAcrossNavigation(t, ctx, 30*time.Second, "the accounts page after the reset",
			`document.readyState === "complete" && location.pathname === "/accounts" && window.__noReload !== true && document.querySelectorAll('[data-testid="account-row"]').length === 4`)
		if got := guidsInState(t, ctx, "refresh_required"); len(got) != 1 || got[0] != expired {
			t.Errorf("expired connections after the reset: got %v, want [%s]", got, expired)
		}
		if got := guidsInState(t, ctx, "completed"); len(got) != 1 || got[0] != connected[0] {
			t.Errorf("connected connections after the reset: got %v, want %v", got, connected)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('[data-testid="banner"]').length`); n != banners {
			t.Errorf("banners after the reset: got %d, want %d as seeded", n, banners)
		}
		screenshot(t, ctx, "demo-reset")
		for _, l := range logLines(p.cmd.Stderr.(*lockedWriter).String(), "demo reset") {
			t.Logf("reset took %v ms", l["took_ms"])
		}
	})
}

func tidSel(id string) string { return `[data-testid="` + id + `"]` }

func itoa(n int) string { return fmt.Sprint(n) }

// TestDemoResetOnStart: the demo keeps its state across a restart, unless
// it is started with -demo-reset-on-start.
func TestDemoResetOnStart(t *testing.T) {
	p := startPortal(t)
	count := func() int {
		t.Helper()
		alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
		return strings.Count(alice.page("/accounts"), `data-state="refresh_required"`)
	}
	if n := count(); n != 1 {
		t.Fatalf("seeded: %d expired connections, want 1", n)
	}
	alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
	if status, out := alice.json("POST", "/demo/expire", nil); status != 200 || !strings.Contains(out["message"], "expired") {
		t.Fatalf("expire: got %d %v", status, out)
	}
	if n := count(); n != 2 {
		t.Fatalf("after the expiry: %d expired connections, want 2", n)
	}
	p.stop()
	p.restart(t)
	if n := count(); n != 2 {
		t.Errorf("after a restart: %d expired connections, want 2 (kept)", n)
	}
	p.stop()
	p.restart(t, "PORTAL_DEMO_RESET_ON_START=1")
	if n := count(); n != 1 {
		t.Errorf("after a restart with -demo-reset-on-start: %d expired connections, want 1 (seeded)", n)
	}
}

// demoPost sends a Demo controls form as the panel's script does.
func demoPost(a *apiClient, path string, form url.Values) (int, map[string]string) {
	a.t.Helper()
	form.Set("_csrf", a.csrf)
	req, _ := http.NewRequest(http.MethodPost, a.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return a.sendJSON(req)
}

// TestDemoPlaidWebhooks: the panel has Plaid fire its webhooks at the
// platform simulator, through the stand-in's sandbox API.
func TestDemoPlaidWebhooks(t *testing.T) {
	p := startPortal(t)
	alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
	expired := func() int { return strings.Count(alice.page("/accounts"), `data-state="refresh_required"`) }
	if n := expired(); n != 1 {
		t.Fatalf("seeded: %d expired connections, want 1", n)
	}
	status, out := demoPost(alice, "/demo/webhook", url.Values{"code": {"PENDING_DISCONNECT"}})
	if status != http.StatusOK || !strings.Contains(out["message"], "PENDING_DISCONNECT") {
		t.Fatalf("PENDING_DISCONNECT: got %d %v", status, out)
	}
	poll(t, 20*time.Second, "the platform to receive PENDING_DISCONNECT", func() bool {
		for _, l := range logLines(p.cmd.Stderr.(*lockedWriter).String(), "plaid webhook") {
			if l["code"] == "PENDING_DISCONNECT" {
				return true
			}
		}
		return false
	})
	if n := expired(); n != 1 {
		t.Errorf("after PENDING_DISCONNECT: %d expired connections, want 1 (a warning only)", n)
	}
	status, out = demoPost(alice, "/demo/webhook", url.Values{"code": {"ITEM_LOGIN_REQUIRED"}})
	if status != http.StatusOK || !strings.Contains(out["message"], "flagged") {
		t.Fatalf("ITEM_LOGIN_REQUIRED: got %d %v", status, out)
	}
	if n := expired(); n != 2 {
		t.Errorf("after ITEM_LOGIN_REQUIRED: %d expired connections, want 2", n)
	}
	// Nothing left for Plaid to flag: a plain answer, nothing changes.
	status, out = demoPost(alice, "/demo/webhook", url.Values{"code": {"ITEM_LOGIN_REQUIRED"}})
	if status != http.StatusOK || !strings.Contains(out["message"], "No Connected connection") {
		t.Errorf("a second ITEM_LOGIN_REQUIRED: got %d %v", status, out)
	}
}

// TestDemoPrintsOneLine: the demo says where it runs, in one line, and
// nothing else (the people and the stories are in the page's Demo controls).
func TestDemoPrintsOneLine(t *testing.T) {
	out := &lockedWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(string) string { return "" }
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "error"}, getenv, strings.NewReader(""), out)
	}()
	poll(t, 90*time.Second, "the demo's line", func() bool { return strings.Contains(out.String(), "\n") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Bank-connections portal demo is running: http://127.0.0.1:") {
		t.Errorf("the demo printed %q, want one line with its URL", out.String())
	}
}
