package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/bankconnections/portal/internal/testutil"
)

// The end-to-end tests run the real portal binary in demo mode and drive
// Debian's Chromium against it.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func portalBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portal-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "portal")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// portal is a running demo.
type portal struct {
	URL         string // as the browser reaches it
	PlatformURL string // the platform simulator (sandbox controls)
	PlaidURL    string // the Plaid stand-in
	DataDir     string
	cmd         *exec.Cmd
	stderr      *lockedWriter // the process writes it while the test reads it
}

// startPortal runs the demo binary on a free port with a fresh data dir.
func startPortal(t *testing.T, env ...string) *portal {
	t.Helper()
	p := &portal{DataDir: t.TempDir(), stderr: &lockedWriter{}}
	p.start(t, env...)
	return p
}

func (p *portal) start(t *testing.T, env ...string) {
	t.Helper()
	// The browser reaches the portal as localhost while the Plaid stand-in
	// stays on 127.0.0.1: Link's frame is then on another site, as Plaid's CDN is.
	port := freePort(t)
	cmd := exec.Command(portalBinary(t), "-addr", "127.0.0.1:"+port, "-base-url", "http://localhost:"+port, "-data", p.DataDir, "-log-level", "debug")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = p.stderr
	logStart := p.stderr.Len() // a restart appends to the same log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	t.Cleanup(func() { p.stop() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, v, ok := strings.Cut(sc.Text(), "demo is running: "); ok {
				found <- strings.TrimSpace(v)
			}
		}
	}()
	select {
	case p.URL = <-found:
	case <-time.After(90 * time.Second):
		t.Fatalf("portal did not start; stderr:\n%s", p.stderr.String())
	}
	// The simulators' URLs are in the log of this run, not on the demo's one line.
	logs := cmd.Stderr.(*lockedWriter)
	p.PlatformURL, p.PlaidURL = "", ""
	testutil.EventuallyEvery(t, 10*time.Second, 50*time.Millisecond, func() error {
		for _, line := range strings.Split(logs.String()[logStart:], "\n") {
			var rec struct {
				Msg         string `json:"msg"`
				PlatformURL string `json:"platform_url"`
				PlaidURL    string `json:"plaid_url"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "demo simulators" {
				p.PlatformURL, p.PlaidURL = rec.PlatformURL, rec.PlaidURL
			}
		}
		if p.PlatformURL == "" {
			return fmt.Errorf("no demo simulators line in the log:\n%s", logs.String())
		}
		return nil
	})
}

// freePort finds a loopback port that is free now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func (p *portal) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
		p.cmd = nil
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Len()
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium (a fresh profile) and returns its context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("PORTAL_REQUIRE_BROWSER") != "" {
			t.Fatalf("Chromium is required (%s): %v", chromiumPath, err)
		}
		t.Skipf("Chromium not installed at %s (apt-get install chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs steps with a deadline, failing the test with what was attempted.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func tid(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// eval runs JavaScript in the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("eval %q: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func waitFor(t *testing.T, ctx context.Context, d time.Duration, what, js string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func login(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	within(t, ctx, 20*time.Second, "login as "+email,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(tid("login-submit")),
	)
	// Wait for the answer to the sign-in, so the next navigation does not abort it.
	waitAcrossNavigation(t, ctx, 20*time.Second, "the answer to the sign-in",
		`document.readyState === "complete" && (location.pathname !== "/login" || !!document.querySelector('[data-testid="login-error"]'))`)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PORTAL_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

var (
	seenFramesMu sync.Mutex
	seenFrames   = map[target.ID]bool{}
)

// linkFrame attaches to the next Link iframe (cross-site, so Chromium runs it
// as its own target) and returns a context for actions inside it.
func linkFrame(t *testing.T, ctx context.Context, plaidURL string) context.Context {
	t.Helper()
	var fctx context.Context
	testutil.EventuallyEvery(t, 20*time.Second, 50*time.Millisecond, func() error {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("targets: %v", err)
		}
		for _, info := range infos {
			seenFramesMu.Lock()
			fresh := info.Type == "iframe" && strings.HasPrefix(info.URL, plaidURL+"/link/frame") && !seenFrames[info.TargetID]
			if fresh {
				seenFrames[info.TargetID] = true
			}
			seenFramesMu.Unlock()
			if fresh {
				var cancel context.CancelFunc
				fctx, cancel = chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
				t.Cleanup(cancel)
				// The first Run attaches for the context's life: no timeout on it.
				if _, err := chromedp.Run(fctx, chromedp.Evaluate[bool](`true`)); err != nil {
					t.Fatalf("attach to the Link iframe: %v", err)
				}
				return nil
			}
		}
		return fmt.Errorf("no Link iframe from %s", plaidURL)
	})
	return fctx
}

// inFrame runs steps inside the Link frame.
func inFrame(t *testing.T, f context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	within(t, f, 20*time.Second, "Link: "+what, steps...)
}

func clickIn(sel chromedp.CSS) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.WaitVisible(sel), chromedp.WaitEnabled(sel), chromedp.Click(sel))
}

func plaidLogin(t *testing.T, f context.Context, user, password string) {
	t.Helper()
	inFrame(t, f, "log in as "+user,
		chromedp.WaitVisible(tid("plaid-username")),
		chromedp.SendKeys(tid("plaid-username"), user),
		chromedp.SendKeys(tid("plaid-password"), password),
		clickIn(tid("plaid-submit")))
}
