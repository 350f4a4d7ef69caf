package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// signedIn tells whether the client's session still opens the accounts page.
func (a *apiClient) signedIn() bool {
	a.t.Helper()
	res, err := a.c.Get(a.base + "/accounts")
	if err != nil {
		a.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == http.StatusOK && res.Request.URL.Path == "/accounts"
}

// tryLogin posts the sign-in form and returns the status and page.
func tryLogin(t *testing.T, base, email, password string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, body := formPost(t, c, base, "/login", "/login", url.Values{"email": {email}, "password": {password}})
	return res.StatusCode, body
}

// userCommand runs `portal user ...` (the real binary) on the portal's data folder.
func userCommand(t *testing.T, p *portal, password string, args ...string) string {
	t.Helper()
	cmd := exec.Command(portalBinary(t), append(append([]string{"user"}, args...), "-data", p.DataDir)...)
	cmd.Env = append(os.Environ(), "PORTAL_USER_PASSWORD="+password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("portal user %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestUserLifecycleAgainstARunningPortal runs each operator subcommand, as a
// process of its own, next to the running portal on the same data folder,
// and the password page in the portal: the user is signed out on every
// device from the next request on.
func TestUserLifecycleAgainstARunningPortal(t *testing.T) {
	p := startPortal(t)
	devices := func(email, password string) []*apiClient {
		return []*apiClient{signIn(t, p.URL, email, password), signIn(t, p.URL, email, password)}
	}
	signedOut := func(what string, cs []*apiClient) {
		t.Helper()
		for i, c := range cs {
			if c.signedIn() {
				t.Errorf("%s: device %d is still signed in, want signed out at its next request", what, i+1)
			}
		}
	}

	t.Run("sessions revoke", func(t *testing.T) {
		alice, bob := devices("alice@example.com", "demo-alice"), signIn(t, p.URL, "bob@example.com", "demo-bob")
		for _, c := range alice {
			if !c.signedIn() { // the portal has these sessions in its read cache now
				t.Fatal("alice is not signed in")
			}
		}
		out := userCommand(t, p, "", "sessions", "revoke", "-email", "alice@example.com")
		if !strings.Contains(out, "2 live sessions ended") {
			t.Errorf("output: %q, want it to say 2 sessions ended", out)
		}
		signedOut("after sessions revoke", alice)
		if !bob.signedIn() {
			t.Error("bob was signed out by alice's revocation")
		}
		signIn(t, p.URL, "alice@example.com", "demo-alice") // her password still works
	})

	t.Run("set-password", func(t *testing.T) {
		alice := devices("alice@example.com", "demo-alice")
		alice[0].signedIn()
		userCommand(t, p, "a password set by ops", "set-password", "-email", "alice@example.com")
		signedOut("after set-password", alice)
		if status, _ := tryLogin(t, p.URL, "alice@example.com", "demo-alice"); status != http.StatusUnauthorized {
			t.Errorf("old password: got %d, want 401", status)
		}
		signIn(t, p.URL, "alice@example.com", "a password set by ops")
	})

	t.Run("disable and enable", func(t *testing.T) {
		bob := devices("bob@example.com", "demo-bob")
		bob[0].signedIn()
		userCommand(t, p, "", "disable", "-email", "bob@example.com")
		signedOut("after disable", bob)
		status, page := tryLogin(t, p.URL, "bob@example.com", "demo-bob")
		if status != http.StatusForbidden || !strings.Contains(page, "This account is disabled.") {
			t.Errorf("disabled bob signing in: got %d, want 403 with a plain message", status)
		}
		userCommand(t, p, "", "enable", "-email", "bob@example.com")
		signIn(t, p.URL, "bob@example.com", "demo-bob")
	})

	t.Run("password page", func(t *testing.T) {
		alice := devices("alice@example.com", "a password set by ops")
		alice[1].signedIn()
		form := url.Values{"_csrf": {alice[0].csrf}, "current_password": {"a password set by ops"},
			"new_password": {"alice's own new password"}, "confirm_password": {"alice's own new password"}}
		res, err := alice[0].c.PostForm(p.URL+"/account/password", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), `data-testid="password-changed"`) {
			t.Fatalf("password change: got %d at %s, want the page saying it changed", res.StatusCode, res.Request.URL.Path)
		}
		if !alice[0].signedIn() {
			t.Error("the browser that changed the password was signed out")
		}
		signedOut("the other device after the password page", alice[1:])
		signIn(t, p.URL, "alice@example.com", "alice's own new password")
	})

	t.Run("foreign Origin without Sec-Fetch-Site", func(t *testing.T) {
		alice := signIn(t, p.URL, "alice@example.com", "alice's own new password")
		for _, path := range []string{"/logout", "/account/password"} {
			form := url.Values{"_csrf": {alice.csrf}, "current_password": {"alice's own new password"},
				"new_password": {"chosen by an attacker"}, "confirm_password": {"chosen by an attacker"}}
			req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "http://attacker.example")
			res, err := alice.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with a foreign Origin: got %d, want 403", path, res.StatusCode)
			}
		}
		if !alice.signedIn() {
			t.Error("a refused logout signed alice out")
		}
		signIn(t, p.URL, "alice@example.com", "alice's own new password") // unchanged
	})
}

// aliceWithOneExpired signs alice in and returns her one expired connection.
func aliceWithOneExpired(t *testing.T, ctx context.Context, p *portal) string {
	t.Helper()
	login(t, ctx, p.URL, "alice@example.com", "demo-alice")
	within(t, ctx, 20*time.Second, "accounts page", chromedp.WaitVisible(tid("account-list")))
	expired := guidsInState(t, ctx, "refresh_required")
	if len(expired) != 1 {
		t.Fatalf("alice's expired connections: got %v, want 1", expired)
	}
	return expired[0]
}

// reconnectAlicesExpired signs alice in, clicks Reconnect on her one expired
// connection and returns it with the open Link's frame.
func reconnectAlicesExpired(t *testing.T, ctx context.Context, p *portal) (guid string, frame context.Context) {
	t.Helper()
	guid = aliceWithOneExpired(t, ctx, p)
	within(t, ctx, 20*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
	frame = linkFrame(t, ctx, p.PlaidURL)
	inFrame(t, frame, "Link is open", chromedp.WaitVisible(tid("plaid-username")))
	return guid, frame
}

// TestBrowserArrivingFromAnotherSite: tab A starts a reconnect; tab B then
// arrives at the portal by a link on another site (as from the reminder
// email's webmail); tab A's Link result is still accepted.
func TestBrowserArrivingFromAnotherSite(t *testing.T) {
	p := startPortal(t)
	tabA := newBrowser(t)
	guid, f := reconnectAlicesExpired(t, tabA, p)

	// Another site (127.0.0.1 is another site than localhost) links to the portal.
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>Mail</title><a id="go" href="%s/accounts">Reconnect your bank</a>`, p.URL)
	}))
	t.Cleanup(elsewhere.Close)
	tabB, cancel := chromedp.NewContext(tabA)
	t.Cleanup(cancel)
	within(t, tabB, 30*time.Second, "tab B: follow the link from another site",
		chromedp.Navigate(elsewhere.URL),
		chromedp.WaitVisible(chromedp.CSS(`#go`)),
		chromedp.Click(chromedp.CSS(`#go`)),
		chromedp.WaitVisible(tid("account-list")))
	front := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.BringToFront, cdp.Empty{})
		return chromedp.Void{}, err
	}
	within(t, tabA, 10*time.Second, "back to tab A", front)

	plaidLogin(t, f, "user_good", "pass_good")
	waitFor(t, tabA, 45*time.Second, "tab A: the row to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)
	if msg := eval[string](t, tabA, `(function(){var e=document.querySelector('[data-testid="link-error"]');return e && !e.classList.contains('hidden') ? e.textContent : "";})()`); msg != "" {
		t.Errorf("tab A shows an error: %q", msg)
	}
	screenshot(t, tabA, "arrived-from-another-site")

	// The password page is reached from the header and works under the CSP.
	within(t, tabA, 20*time.Second, "open the password page",
		chromedp.Click(tid("account-password")),
		chromedp.WaitVisible(tid("password-form")),
		chromedp.SendKeys(chromedp.CSS(`#current_password`), "demo-alice"),
		chromedp.SendKeys(chromedp.CSS(`#new_password`), "short"),
		chromedp.SendKeys(chromedp.CSS(`#confirm_password`), "short"),
		chromedp.Click(tid("password-submit")))
	waitAcrossNavigation(t, tabA, 20*time.Second, "the refusal of a short password",
		`!!document.querySelector('[data-testid="password-error"]') && document.querySelector('[data-testid="password-error"]').textContent.indexOf("at least 8") >= 0`)
	screenshot(t, tabA, "password-page")
}

// TestBrowserKeptLinkResult: the person's session ends while Link is open
// (an operator signs them out); Link's result is refused but kept, the page
// says so, and signing in again finishes the reconnect.
func TestBrowserKeptLinkResult(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	guid, f := reconnectAlicesExpired(t, ctx, p)

	userCommand(t, p, "", "sessions", "revoke", "-email", "alice@example.com")
	plaidLogin(t, f, "user_good", "pass_good")
	waitFor(t, ctx, 30*time.Second, "the page to say the result was kept",
		`(function(){var e=document.querySelector('[data-testid="link-error"]');return !!e && !e.classList.contains('hidden') && e.textContent.indexOf("we kept your bank's answer") >= 0 && !!e.querySelector('[data-testid="link-kept"]');})()`)
	screenshot(t, ctx, "link-result-kept")
	if got := rowState(t, ctx, guid); !strings.HasPrefix(got, "refresh_required|") {
		t.Fatalf("the row before signing in again: got %s, want still refresh_required", got)
	}

	within(t, ctx, 20*time.Second, "follow Continue", chromedp.Click(tid("link-kept")))
	waitAcrossNavigation(t, ctx, 20*time.Second, "the sign-in form", `location.pathname === "/login" && document.readyState === "complete"`)
	login(t, ctx, p.URL, "alice@example.com", "demo-alice")
	reloadUntil(t, ctx, p.URL+"/accounts", 45*time.Second, "the kept reconnect to show Connected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)
}
