package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/bankconnections/portal/internal/testutil"
)

// recordViolations is run in every document before the page's own scripts: it
// keeps each securitypolicyviolation event of the document.
const recordViolations = `(function () {
	window.__cspViolations = [];
	document.addEventListener('securitypolicyviolation', function (e) {
		window.__cspViolations.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber);
	});
})();`

// cspWatch collects the CSP violations of one tab: the page's own events
// (window.__cspViolations) and Chromium's reports in its log, which also
// cover documents the tab has navigated away from.
type cspWatch struct {
	mu     sync.Mutex
	logged []string
}

func watchCSP(t *testing.T, ctx context.Context) *cspWatch {
	t.Helper()
	w := &cspWatch{}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry != nil &&
			(e.Entry.Source == cdplog.EntrySourceSecurity || strings.Contains(e.Entry.Text, "Content Security Policy")) {
			w.mu.Lock()
			w.logged = append(w.logged, e.Entry.Text)
			w.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	within(t, ctx, 10*time.Second, "register the violation listener", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations})
		return err
	}))
	return w
}

// violations returns what the log and the current page have recorded.
func (w *cspWatch) violations(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var out []string
	for _, v := range eval[[]string](t, ctx, `window.__cspViolations || []`) {
		out = append(out, "event: "+v)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range w.logged {
		out = append(out, "log: "+v)
	}
	return out
}

// linkStyled tells whether Link's frame is on the page with the styles its SDK
// injects in force: the style element (allowed by the nonce) has fixed the
// frame's position and hides it by default, and the style attribute (allowed
// by style-src-attr) shows it.
const linkStyled = `(function () {
	var f = document.querySelector('[data-testid="plaid-link-iframe"]');
	var s = document.querySelector('style[data-plaid-link-style]');
	return !!f && !!s && f.getAttribute('style') === 'display:block' && getComputedStyle(f).position === 'fixed' && getComputedStyle(f).display === 'block';
})()`

// waitStyled waits until Link shows with its styles, telling the violations seen if not.
func (w *cspWatch) waitStyled(t *testing.T, ctx context.Context, mode string) {
	t.Helper()
	testutil.EventuallyEvery(t, 30*time.Second, 100*time.Millisecond, func() error {
		if !eval[bool](t, ctx, linkStyled) {
			return fmt.Errorf("Link (%s) not shown with its styles; CSP violations: %q", mode, w.violations(t, ctx))
		}
		return nil
	})
}

// linkBothFlows reconnects alice's expired connection (Link in update mode)
// and links a new account (create mode) in the browser.
func linkBothFlows(t *testing.T, ctx context.Context, p *portal, w *cspWatch) {
	t.Helper()
	guid := aliceWithOneExpired(t, ctx, p)
	within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
	w.waitStyled(t, ctx, "update mode")
	f := linkFrame(t, ctx, p.PlaidURL)
	plaidLogin(t, f, "user_good", "pass_good")
	waitFor(t, ctx, 60*time.Second, "the reconnected row to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)

	before := allGUIDs(t, ctx)
	f = chooseInstitution(t, ctx, p, "platypus", "ins_109508")
	w.waitStyled(t, ctx, "create mode")
	plaidLogin(t, f, "user_good", "pass_good")
	chooseAccount(t, f, 1) // savings: alice already has the checking account
	waitFor(t, ctx, 60*time.Second, "a new row", `document.querySelectorAll('[data-testid="account-row"]').length === `+fmt.Sprint(len(before)+1))
}

// TestBrowserLinkUnderCSP runs both Link flows under the demo's policy and
// under the live-mode policy (with the Link simulator, which injects a style
// element and style attributes as Plaid's SDK does, standing in for Plaid's
// CDN), and fails on any CSP violation. Left without the nonce, the same page
// must report violations: proof that the watch sees them.
func TestBrowserLinkUnderCSP(t *testing.T) {
	for _, mode := range []string{"demo", "live"} {
		t.Run(mode+" policy", func(t *testing.T) {
			p := startPortal(t, "PORTAL_LINK_CSP="+mode)
			ctx := newBrowser(t)
			w := watchCSP(t, ctx)
			linkBothFlows(t, ctx, p, w)
			csp := pageCSP(t, p.URL+"/login")
			if mode == "live" && !strings.Contains(csp, "script-src 'self' "+p.PlaidURL+"/link/v2/stable/link-initialize.js 'nonce-") {
				t.Errorf("live policy %q: want the script by its URL and a nonce", csp)
			}
			if v := w.violations(t, ctx); len(v) > 0 {
				t.Errorf("CSP violations under the %s policy %q:\n%s", mode, csp, strings.Join(v, "\n"))
			}
		})
	}

	t.Run("without the nonce violations are reported", func(t *testing.T) {
		p := startPortal(t, "PORTAL_LINK_CSP=live")
		proxy := stripNonce(t, p.URL)
		ctx := newBrowser(t)
		w := watchCSP(t, ctx)
		login(t, ctx, proxy, "alice@example.com", "demo-alice")
		within(t, ctx, 20*time.Second, "open Link", chromedp.WaitVisible(tid("account-list")), chromedp.WaitEnabled(tid("link-account")), chromedp.Click(tid("link-account")))
		linkFrame(t, ctx, p.PlaidURL)
		waitFor(t, ctx, 30*time.Second, "Link's injected style element", `!!document.querySelector('style[data-plaid-link-style]')`)
		testutil.EventuallyEvery(t, 20*time.Second, 100*time.Millisecond, func() error {
			v := w.violations(t, ctx)
			joined := strings.Join(v, "\n")
			if strings.Contains(joined, "event: style-src-elem") && strings.Contains(joined, "log: ") {
				return nil
			}
			return fmt.Errorf("without the nonce: want a style-src-elem violation from the event and from the log, got %q", v)
		})
		if eval[bool](t, ctx, linkStyled) {
			t.Error("without the nonce Link's injected style was applied")
		}
	})
}

// pageCSP fetches a page and returns its policy.
func pageCSP(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.Header.Get("Content-Security-Policy")
}

var nonceSource = regexp.MustCompile(` 'nonce-[^']*'`)

// stripNonce serves the portal through a proxy that leaves the nonce out of
// every policy, as a portal that forgot it would, and returns its URL.
func stripNonce(t *testing.T, portalURL string) string {
	t.Helper()
	target, err := url.Parse(portalURL)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
			if r.Out.Header.Get("Origin") != "" {
				r.Out.Header.Set("Origin", portalURL)
			}
			r.Out.Header.Del("Referer")
		},
		ModifyResponse: func(res *http.Response) error {
			if csp := res.Header.Get("Content-Security-Policy"); csp != "" {
				res.Header.Set("Content-Security-Policy", nonceSource.ReplaceAllString(csp, ""))
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}
