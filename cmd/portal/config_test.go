package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/web"
)

func TestConfig(t *testing.T) {
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	live := map[string]string{"PLATFORM_URL": "https://api.example", "PLATFORM_TOKEN_URL": "https://id.example/oauth/token",
		"PLATFORM_CLIENT_ID": "id", "PLATFORM_CLIENT_SECRET": "secret", "PLATFORM_BANK_GUID": strings.Repeat("b", 32)}

	c, err := parseConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.demo() || c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.SyncInterval != 30*time.Second || c.secureCookies() {
		t.Fatalf("defaults: got %+v", c)
	}
	c, err = parseConfig([]string{"-addr", "127.0.0.1:9000"}, env(map[string]string{"PORTAL_ADDR": "127.0.0.1:7000", "PORTAL_DATA_DIR": "/srv/portal"}))
	if err != nil || c.Addr != "127.0.0.1:9000" || c.DataDir != "/srv/portal" {
		t.Fatalf("flags over env: got %+v, %v", c, err)
	}
	c, err = parseConfig(nil, env(live))
	if err != nil || c.demo() {
		t.Fatalf("live mode: got demo=%v, %v", c.demo(), err)
	}
	c, err = parseConfig(nil, env(map[string]string{"PORTAL_BASE_URL": "https://portal.example/"}))
	if err != nil || !c.secureCookies() || c.BaseURL != "https://portal.example" {
		t.Fatalf("https base URL: got %+v, %v", c, err)
	}

	if !slices.Equal(c.PlatformScopes, platform.DefaultScopes()) {
		t.Fatalf("default scopes: got %v, want %v", c.PlatformScopes, platform.DefaultScopes())
	}
	core := strings.Join(platform.CoreScopes, " ")
	c, err = parseConfig([]string{"-platform-scopes", core}, env(map[string]string{"PLATFORM_SCOPES": core + " transfers:read"}))
	if err != nil || !slices.Equal(c.PlatformScopes, platform.CoreScopes) {
		t.Fatalf("-platform-scopes over PLATFORM_SCOPES: got %v, %v", c.PlatformScopes, err)
	}
	c, err = parseConfig(nil, env(map[string]string{"PLATFORMSIM_KEY_SCOPES": core}))
	if err != nil || !slices.Equal(c.DemoKeyScopes, platform.CoreScopes) {
		t.Fatalf("PLATFORMSIM_KEY_SCOPES: got %v, %v", c.DemoKeyScopes, err)
	}
	c, err = parseConfig([]string{"-trusted-proxies", "10.0.0.0/8, 192.0.2.7"}, env(map[string]string{"PORTAL_TRUSTED_PROXIES": "172.16.0.0/12"}))
	if err != nil || len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "10.0.0.0/8" || c.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Fatalf("trusted proxies: got %v, %v", c.TrustedProxies, err)
	}
	if c, _ := parseConfig(nil, env(nil)); len(c.TrustedProxies) != 0 {
		t.Fatalf("trusted proxies by default: got %v, want none", c.TrustedProxies)
	}

	if c, err := parseConfig(nil, env(nil)); err != nil || c.DatabaseURL != "" {
		t.Fatalf("database by default: got %q, %v; want SQLite (empty URL)", c.DatabaseURL, err)
	}
	c, err = parseConfig([]string{"-database-url", "postgres://portal@db1:5432/portal"}, env(map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@db2/portal"}))
	if err != nil || c.DatabaseURL != "postgres://portal@db1:5432/portal" {
		t.Fatalf("-database-url over PORTAL_DATABASE_URL: got %q, %v", c.DatabaseURL, err)
	}
	if _, err := parseConfig(nil, env(map[string]string{"PORTAL_DATABASE_URL": "mysql://u:hunter22@db/portal"})); err == nil || strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("a bad database URL: got %v, want an error that does not repeat the password", err)
	}

	partial := map[string]string{"PLATFORM_URL": "https://api.example"}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"partial live config":      {nil, partial, "live mode needs all of"},
		"bad interval":             {[]string{"-sync-interval", "5ms"}, nil, "sync-interval"},
		"bad base URL":             {nil, map[string]string{"PORTAL_BASE_URL": "portal.example"}, "PORTAL_BASE_URL"},
		"half Plaid keys":          {nil, map[string]string{"PLAID_CLIENT_ID": "x"}, "PLAID_SECRET"},
		"bad trusted proxy":        {nil, map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/33"}, "trusted-proxies"},
		"Plaid production":         {nil, map[string]string{"PLAID_CLIENT_ID": "x", "PLAID_SECRET": "y", "PLAID_ENV": "production"}, "sandbox"},
		"unknown scope":            {[]string{"-platform-scopes", "transfers:everything"}, nil, "platform-scopes"},
		"no core scopes":           {nil, map[string]string{"PLATFORM_SCOPES": "transfers:read"}, "accounts and Link need"},
		"unknown key scope":        {nil, map[string]string{"PLATFORMSIM_KEY_SCOPES": "everything"}, "PLATFORMSIM_KEY_SCOPES"},
		"not a postgres URL":       {nil, map[string]string{"PORTAL_DATABASE_URL": "mysql://u:pw@db/portal"}, "PORTAL_DATABASE_URL: give a postgres://"},
		"a file path as URL":       {[]string{"-database-url", "/srv/portal.db"}, nil, "PORTAL_DATABASE_URL: give a postgres://"},
		"demo reset on PostgreSQL": {[]string{"-demo-reset-on-start"}, map[string]string{"PORTAL_DATABASE_URL": "postgres://db/portal"}, "SQLite-only"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseConfig(tc.args, env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestLivePlaidPolicyAllowsOnlyPlaidsCDN(t *testing.T) {
	csp := web.ContentSecurityPolicy(web.LinkSource{Origin: "https://cdn.plaid.com", Script: "https://cdn.plaid.com/link/v2/stable/link-initialize.js",
		Connect: []string{"https://sandbox.plaid.com"}}, "n0nce")
	for _, want := range []string{"default-src 'self' https://cdn.plaid.com/;", "script-src 'self' https://cdn.plaid.com/link/v2/stable/link-initialize.js 'nonce-n0nce';",
		"frame-src https://cdn.plaid.com/;", "connect-src 'self' https://sandbox.plaid.com;"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}

func TestLinkCSPFlag(t *testing.T) {
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	for _, tc := range []struct {
		args []string
		env  map[string]string
		live bool
	}{
		{nil, nil, false},
		{[]string{"-link-csp", "live"}, nil, true},
		{nil, map[string]string{"PORTAL_LINK_CSP": "live"}, true},
		{[]string{"-link-csp", "demo"}, map[string]string{"PORTAL_LINK_CSP": "live"}, false},
	} {
		c, err := parseConfig(tc.args, env(tc.env))
		if err != nil || c.LiveLinkCSP != tc.live {
			t.Errorf("%v %v: got live=%v err=%v, want live=%v", tc.args, tc.env, c.LiveLinkCSP, err, tc.live)
		}
	}
	if _, err := parseConfig([]string{"-link-csp", "strict"}, env(nil)); err == nil || !strings.Contains(err.Error(), "demo or live") {
		t.Errorf("-link-csp strict: got %v, want an error naming the choices", err)
	}
}

func TestGracefulShutdown(t *testing.T) {
	p := startPortal(t)
	cmd := p.cmd
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the portal did not stop within 20s of SIGINT")
	}
	p.cmd = nil
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Fatal("no shutdown log line")
	}
}
