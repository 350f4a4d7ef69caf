package simplaid_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/bankconnections/portal/internal/testutil"
)

// chromiumPath finds Debian's Chromium; "" when it is not installed.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// browser is one headless Chromium with one tab.
type browser struct {
	ctx  context.Context
	seen map[target.ID]bool // Link iframe targets already handed out
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("Chromium is not installed (/usr/bin/chromium missing): skipping the Link simulator browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &browser{ctx: ctx, seen: map[target.ID]bool{}}
}

// run runs steps in the page with a deadline.
func (b *browser) run(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) navigate(t *testing.T, url string) {
	t.Helper()
	b.run(t, "navigate "+url, chromedp.Navigate(url))
}

// eval evaluates JavaScript in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// linkFrame is the Link simulator's iframe: a cross-site iframe, so Chrome
// runs it as its own target and actions attach to that target.
type linkFrame struct {
	ctx context.Context
}

// frame waits for a Link iframe target not handed out before and attaches.
func (b *browser) frame(t *testing.T, standInURL string) *linkFrame {
	t.Helper()
	var frame *linkFrame
	testutil.Eventually(t, 30*time.Second, func() error {
		if b.ctx.Err() != nil {
			t.Fatalf("browser gone: %v", b.ctx.Err())
		}
		infos, err := chromedp.Targets(b.ctx)
		if err != nil {
			t.Fatalf("targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, standInURL+"/link/frame") && !b.seen[info.TargetID] {
				b.seen[info.TargetID] = true
				ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
				t.Cleanup(cancel)
				// The first Run attaches for the context's whole life, so it
				// must not run under a per-action timeout.
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`true`)); err != nil {
					t.Fatalf("attaching to the Link iframe: %v", err)
				}
				frame = &linkFrame{ctx: ctx}
				return nil
			}
		}
		return fmt.Errorf("Link iframe target from %s: got none new among %d targets", standInURL, len(infos))
	})
	return frame
}

func testID(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[data-testid=%q]`, id)) }

func (f *linkFrame) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("Link frame: %s: %v", what, err)
	}
}

// click waits for the element to be visible and clicks it.
func (f *linkFrame) click(t *testing.T, sel chromedp.CSS) {
	t.Helper()
	f.do(t, "click "+string(sel), chromedp.WaitVisible(sel), chromedp.WaitEnabled(sel), chromedp.Click(sel))
}

func (f *linkFrame) typeText(t *testing.T, sel chromedp.CSS, text string) {
	t.Helper()
	f.do(t, "type into "+string(sel), chromedp.WaitVisible(sel), chromedp.SendKeys(sel, text))
}

func (f *linkFrame) waitVisible(t *testing.T, sel chromedp.CSS) {
	t.Helper()
	f.do(t, "wait for "+string(sel), chromedp.WaitVisible(sel))
}

// attr reads an attribute of the first matching element.
func (f *linkFrame) evalString(t *testing.T, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("Link frame: evaluate %s: %v", expr, err)
	}
	return v
}

// login fills the credential view and submits it.
func (f *linkFrame) login(t *testing.T, username, password string) {
	t.Helper()
	f.typeText(t, testID("plaid-username"), username)
	f.typeText(t, testID("plaid-password"), password)
	f.click(t, testID("plaid-submit"))
}

// callback is one entry the test page logged from Link's callbacks.
type callback struct {
	Kind        string         `json:"kind"` // load, event, success, exit
	Name        string         `json:"name"`
	PublicToken string         `json:"public_token"`
	Error       map[string]any `json:"error"`
	Metadata    map[string]any `json:"metadata"`
}

// waitCallback polls the page's callback log until one of that kind appears
// and returns the whole log.
func (b *browser) waitCallback(t *testing.T, kind string) []callback {
	t.Helper()
	var log []callback
	testutil.Eventually(t, 30*time.Second, func() error {
		if b.ctx.Err() != nil {
			t.Fatalf("browser gone: %v", b.ctx.Err())
		}
		raw := eval[string](t, b, `JSON.stringify(window.__log || [])`)
		log = nil
		if err := json.Unmarshal([]byte(raw), &log); err != nil {
			t.Fatalf("callback log %s: %v", raw, err)
		}
		if find(log, kind).Kind == "" {
			return fmt.Errorf("callback log: got %s, want a %s callback", raw, kind)
		}
		return nil
	})
	return log
}

func find(log []callback, kind string) callback {
	for _, c := range log {
		if c.Kind == kind {
			return c
		}
	}
	return callback{}
}

// eventNames lists the onEvent names in order, with TRANSITION_VIEW's view.
func eventNames(log []callback) []string {
	var out []string
	for _, c := range log {
		if c.Kind != "event" {
			continue
		}
		name := c.Name
		if name == "TRANSITION_VIEW" {
			name += ":" + fmt.Sprint(c.Metadata["view_name"])
		}
		out = append(out, name)
	}
	return out
}

// testPage serves the app side of Link on its own origin (localhost, while
// the stand-in is on 127.0.0.1: another site, like the real CDN): a page
// under a strict CSP that loads the simulator's script and logs every
// callback into window.__log.
func testPage(t *testing.T, standInURL string) string {
	t.Helper()
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		// Plaid's documented policy for its script, with a fresh nonce:
		// the simulator's style element and style attributes must pass it.
		nonce := rand.Text()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' "+standInURL+"/link/v2/stable/link-initialize.js 'nonce-"+nonce+
			"'; frame-src "+standInURL+"/; connect-src 'self'; style-src 'self' 'nonce-"+nonce+"'; style-src-elem 'self' 'nonce-"+nonce+
			"'; style-src-attr 'unsafe-inline'; base-uri 'none'")
		_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>Link test page</title>
<script src="` + standInURL + `/link/v2/stable/link-initialize.js" nonce="` + nonce + `"></script>
<script src="/page.js" nonce="` + nonce + `" defer></script></head><body><h1>Link test page</h1></body></html>`))
	}
	mux.HandleFunc("GET /link", serve)
	mux.HandleFunc("GET /oauth-return", serve)
	mux.HandleFunc("GET /page.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(pageJS))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
}

// pageJS is the app's Link glue for tests. /link?token=T opens Link with T
// (rru=… sets receivedRedirectUri, which is wrong on a first open);
// /oauth-return re-creates Link with the same token (kept in sessionStorage)
// and the full URL, unless the test asked to hold it (then window.__resume).
const pageJS = `(function () {
  var log = window.__log = [];
  var params = new URLSearchParams(location.search);
  function start(token, rru) {
    if (window.__handler) { window.__handler.destroy(); }
    var cfg = {
      token: token,
      onSuccess: function (pt, md) { log.push({kind: 'success', public_token: pt, metadata: md}); },
      onExit: function (err, md) { log.push({kind: 'exit', error: err, metadata: md}); },
      onEvent: function (name, md) { log.push({kind: 'event', name: name, metadata: md}); },
      onLoad: function () { log.push({kind: 'load'}); }
    };
    if (rru) { cfg.receivedRedirectUri = rru; }
    window.__handler = Plaid.create(cfg);
    window.__handler.open();
  }
  window.__resume = function (token) { start(token, window.location.href); };
  if (location.pathname === '/oauth-return') {
    if (sessionStorage.getItem('hold') !== '1') { start(sessionStorage.getItem('link_token'), window.location.href); }
    return;
  }
  sessionStorage.clear();
  sessionStorage.setItem('link_token', params.get('token'));
  start(params.get('token'), params.get('rru'));
})();`

// pollLocation waits until the top window's URL starts with prefix; it
// survives the navigation it waits for.
func pollLocation(prefix string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			loc, err := chromedp.Evaluate[string](`location.href`)(ctx, tg)
			if err == nil && strings.HasPrefix(loc, prefix) {
				return nil
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("location never started with %s (last %q, %v): %w", prefix, loc, err, ctx.Err())
			}
		}
	})
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
