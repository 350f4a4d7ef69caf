package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/web"
)

// behindProxy puts a reverse proxy (which appends the peer's address to
// X-Forwarded-For, as nginx and the like do) in front of the app.
func behindProxy(t *testing.T, a *app) string {
	t.Helper()
	target, _ := url.Parse(a.srv.URL)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	return proxy.URL
}

// clientFrom is a client whose connections come from the loopback address ip
// (all of 127.0.0.0/8 reaches the loopback interface), so clients of one
// proxy have addresses of their own.
func (a *app) clientFrom(base, ip string) *client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	a.t.Cleanup(tr.CloseIdleConnections)
	return &client{t: a.t, base: base, http: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// TestThrottleBehindAProxy: behind a trusted proxy, 30 failed sign-ins from
// one client (even one that forges X-Forwarded-For) slow that client down
// but leave another client's correct password working; with the proxy not
// trusted, X-Forwarded-For is ignored and everyone behind it shares one address.
func TestThrottleBehindAProxy(t *testing.T) {
	attack := func(t *testing.T, attacker *client) {
		t.Helper()
		for i := range 30 {
			r := attacker.do(http.MethodPost, "/login", url.Values{"_csrf": {attacker.token()}, "email": {"alice@example.com"}, "password": {"guess"}},
				map[string]string{"X-Forwarded-For": "198.51.100." + string(rune('0'+i%10))})
			if r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
				t.Fatalf("failed login #%d: got %d, want 401 or 429", i+1, r.status)
			}
		}
	}
	t.Run("trusted proxy", func(t *testing.T) {
		a := newAppWith(t, func(c *web.Config) {
			_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
			c.TrustedProxies = []*net.IPNet{loopback}
		})
		base := behindProxy(t, a)
		attacker := a.clientFrom(base, "127.0.0.2")
		attack(t, attacker)
		if r := attacker.login("alice@example.com", "demo-alice"); r.status != http.StatusTooManyRequests {
			t.Errorf("the attacker after 30 failures: got %d, want 429", r.status)
		}
		if r := a.clientFrom(base, "127.0.0.3").login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
			t.Errorf("alice from another address after the attack: got %d, want 303 (signed in)", r.status)
		}
		if r := a.clientFrom(base, "127.0.0.4").login("bob@example.com", "demo-bob"); r.status != http.StatusSeeOther {
			t.Errorf("bob from another address after the attack: got %d, want 303 (signed in)", r.status)
		}
	})
	t.Run("untrusted proxy", func(t *testing.T) {
		a := newApp(t)
		base := behindProxy(t, a)
		attack(t, a.clientFrom(base, "127.0.0.2"))
		if r := a.clientFrom(base, "127.0.0.3").login("bob@example.com", "demo-bob"); r.status != http.StatusTooManyRequests {
			t.Errorf("bob behind the untrusted proxy: got %d, want 429 (one shared address)", r.status)
		}
		// Straight to the portal, a made-up X-Forwarded-For changes nothing either.
		c := a.clientFrom(a.srv.URL, "127.0.0.1")
		r := c.do(http.MethodPost, "/login", url.Values{"_csrf": {c.token()}, "email": {"bob@example.com"}, "password": {"demo-bob"}},
			map[string]string{"X-Forwarded-For": "203.0.113.9"})
		if r.status != http.StatusTooManyRequests {
			t.Errorf("a forged X-Forwarded-For from a throttled address: got %d, want 429", r.status)
		}
	})
}

// TestForeignOriginIsRefusedAndChangesNothing: a browser that sends no
// Sec-Fetch-Site still sends Origin; another site's origin is refused even
// with the right token, and the password stays as it was.
func TestForeignOriginIsRefusedAndChangesNothing(t *testing.T) {
	a := newApp(t)
	c := a.client()
	c.login("alice@example.com", "demo-alice")
	form := url.Values{"_csrf": {c.token()}, "current_password": {"demo-alice"}, "new_password": {"a new long password"}, "confirm_password": {"a new long password"}}
	if r := c.do(http.MethodPost, "/account/password", form, map[string]string{"Origin": "https://attacker.example"}); r.status != http.StatusForbidden {
		t.Fatalf("foreign Origin: got %d, want 403", r.status)
	}
	if r := c.do(http.MethodPost, "/account/password", form, map[string]string{"Origin": "null"}); r.status != http.StatusForbidden {
		t.Fatalf("Origin null: got %d, want 403", r.status)
	}
	u, _ := a.db.UserByEmail(context.Background(), "alice@example.com")
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("demo-alice")) != nil {
		t.Fatal("a refused request changed the password")
	}
	if r := c.get("/accounts"); r.status != http.StatusOK {
		t.Fatalf("after the refusals: got %d, want still signed in", r.status)
	}
	// The portal's own origin passes.
	if r := c.do(http.MethodPost, "/account/password", form, map[string]string{"Origin": a.srv.URL}); r.status != http.StatusSeeOther {
		t.Fatalf("own Origin: got %d, want 303", r.status)
	}
}

// TestPasswordChangePage: the current password is required, the new one is
// checked, a change signs out every other session, and guessing is throttled.
func TestPasswordChangePage(t *testing.T) {
	a := newApp(t)
	c, other := a.client(), a.client()
	c.login("alice@example.com", "demo-alice")
	other.login("alice@example.com", "demo-alice")
	if r := c.get("/account/password"); r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="password-form"`) {
		t.Fatalf("password page: got %d", r.status)
	}
	change := func(current, next, confirm string) resp {
		return c.post("/account/password", url.Values{"current_password": {current}, "new_password": {next}, "confirm_password": {confirm}})
	}
	for _, tc := range []struct{ name, current, next, confirm, want string }{
		{"empty", "demo-alice", "", "", "Fill in all three fields."},
		{"wrong current", "not-it", "a new long password", "a new long password", "Your current password is not right."},
		{"too short", "demo-alice", "short", "short", "at least 8 characters"},
		{"confirmation differs", "demo-alice", "a new long password", "a new long passwore", "differ"},
		{"too long", "demo-alice", strings.Repeat("x", 73), strings.Repeat("x", 73), "at most 72"},
	} {
		r := change(tc.current, tc.next, tc.confirm)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: got %d, want 422 with %q", tc.name, r.status, tc.want)
		}
	}
	if r := other.get("/accounts"); r.status != http.StatusOK {
		t.Fatalf("the other session after refused changes: got %d, want 200", r.status)
	}
	r := change("demo-alice", "a new long password", "a new long password")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account/password?changed=1" {
		t.Fatalf("change: got %d %q", r.status, r.header.Get("Location"))
	}
	if r := c.get("/account/password?changed=1"); r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="password-changed"`) {
		t.Errorf("this browser after the change: got %d, want the page saying it changed", r.status)
	}
	if r := other.get("/accounts"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("the other session after the change: got %d %q, want 303 /login", r.status, r.header.Get("Location"))
	}
	if r := a.client().login("alice@example.com", "demo-alice"); r.status != http.StatusUnauthorized {
		t.Errorf("old password: got %d, want 401", r.status)
	}
	if r := a.client().login("alice@example.com", "a new long password"); r.status != http.StatusSeeOther {
		t.Errorf("new password: got %d, want 303", r.status)
	}
	// Guessing the current password is throttled.
	for range 5 {
		change("guess", "another long password", "another long password")
	}
	if r := change("a new long password", "another long password", "another long password"); r.status != http.StatusTooManyRequests {
		t.Errorf("after 5 wrong current passwords: got %d, want 429", r.status)
	}
}

// TestDisabledUserCannotSignIn: disabling signs the user out and the sign-in
// form then says so plainly, but only to someone who knows the password.
func TestDisabledUserCannotSignIn(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	c := a.client()
	c.login("bob@example.com", "demo-bob")
	bob, _ := a.db.UserByEmail(ctx, "bob@example.com")
	if err := a.db.SetDisabled(ctx, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/accounts"); r.status != http.StatusSeeOther {
		t.Errorf("bob's session after disabling: got %d, want 303 (signed out)", r.status)
	}
	r := a.client().login("bob@example.com", "demo-bob")
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "This account is disabled.") {
		t.Errorf("disabled bob with his password: got %d, want 403 with the plain message", r.status)
	}
	if r := a.client().login("bob@example.com", "wrong"); r.status != http.StatusUnauthorized || strings.Contains(r.body, "disabled") {
		t.Errorf("disabled bob with a wrong password: got %d, want the usual 401", r.status)
	}
	if err := a.db.SetDisabled(ctx, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	if r := a.client().login("bob@example.com", "demo-bob"); r.status != http.StatusSeeOther {
		t.Errorf("bob enabled again: got %d, want 303", r.status)
	}
}

// TestNoCookieOnAssetsOrProbes: immutable, shareable responses set no cookie;
// a page does (it anchors the sign-in form's CSRF token).
func TestNoCookieOnAssetsOrProbes(t *testing.T) {
	a := newApp(t)
	login := a.client().get("/login")
	if login.header.Get("Set-Cookie") == "" {
		t.Fatal("/login set no cookie")
	}
	paths := []string{"/healthz"}
	paths = append(paths, staticPaths(t, login.body)...)
	if len(paths) < 2 {
		t.Fatal("no static asset on /login")
	}
	for _, p := range paths {
		if r := a.client().get(p); r.status != http.StatusOK || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: got %d with Set-Cookie %q, want 200 and no cookie", p, r.status, r.header.Get("Set-Cookie"))
		}
	}
}
