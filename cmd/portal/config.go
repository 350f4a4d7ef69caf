package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

// config is the validated configuration. Secrets come from the environment only.
type config struct {
	Addr    string
	DataDir string
	// DatabaseURL is a postgres:// URL: the store is that PostgreSQL
	// database. Empty: SQLite in DataDir. It may hold a password: never logged.
	DatabaseURL  string
	BaseURL      string // public URL of the portal; https makes cookies Secure
	LogLevel     slog.Level
	SyncInterval time.Duration
	Quiet        bool // demo: do not print the banner (tests)
	// LiveLinkCSP makes the demo serve its pages under the policy live mode
	// sends for Plaid's CDN, with the Link simulator in Plaid's place: the
	// way to check offline that Link works under the live policy.
	LiveLinkCSP bool
	// DemoResetOnStart starts the demo from freshly seeded data.
	DemoResetOnStart bool

	// Live mode: all five set. Demo mode: none set.
	PlatformURL, PlatformTokenURL, PlatformClientID, PlatformClientSecret, PlatformBankGUID string
	// PlatformScopes are asked for in the bank token: the core ones and those
	// of the features to turn on (a feature whose scope the platform refuses
	// is switched off at start).
	PlatformScopes []string
	// DemoKeyScopes are the scopes of the demo simulator's API key (default
	// all): lets the demo and tests stand in for a key lacking a scope.
	DemoKeyScopes []string

	// Plaid sandbox keys make the demo use Plaid's real sandbox and CDN script.
	PlaidClientID, PlaidSecret, PlaidEnv string

	SessionKey string // hex, optional: otherwise generated once into the data dir

	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []*net.IPNet

	// MetricsAddr is where /metrics is served; empty: nowhere. Never the public address.
	MetricsAddr string

	TransferLimit int64 // cents: the largest single transfer

	// SMTP sends the outbox; without SMTP_HOST emails stay in the outbox.
	SMTPHost, SMTPUsername, SMTPPassword, SMTPFrom string
	SMTPPort                                       int
}

func (c config) demo() bool { return c.PlatformURL == "" }

func parseConfig(args []string, getenv func(string) string) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	var c config
	var level, interval, limit, scopes, linkCSP, proxies string
	fs.StringVar(&c.Addr, "addr", env("PORTAL_ADDR", "127.0.0.1:8080"), "listen address (env PORTAL_ADDR)")
	fs.StringVar(&c.DataDir, "data", env("PORTAL_DATA_DIR", "./data"), "directory for the portal's files (env PORTAL_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("PORTAL_DATABASE_URL", ""), "postgres:// URL of a shared PostgreSQL database; empty: SQLite in the data directory (env PORTAL_DATABASE_URL)")
	fs.StringVar(&c.BaseURL, "base-url", env("PORTAL_BASE_URL", ""), "public URL of the portal, e.g. https://portal.example.com (env PORTAL_BASE_URL)")
	fs.StringVar(&level, "log-level", env("PORTAL_LOG_LEVEL", "info"), "debug, info, warn or error (env PORTAL_LOG_LEVEL)")
	fs.StringVar(&interval, "sync-interval", env("PORTAL_SYNC_INTERVAL", "30s"), "how often to sync connections from the platform (env PORTAL_SYNC_INTERVAL)")
	fs.StringVar(&limit, "transfer-limit", env("PORTAL_TRANSFER_LIMIT", ""), "largest single deposit or withdrawal in dollars, default 10000 (env PORTAL_TRANSFER_LIMIT)")
	fs.StringVar(&scopes, "platform-scopes", env("PLATFORM_SCOPES", ""), "scopes asked of the platform, space- or comma-separated; default those of every feature (env PLATFORM_SCOPES)")
	fs.StringVar(&proxies, "trusted-proxies", env("PORTAL_TRUSTED_PROXIES", ""), "CIDR ranges of reverse proxies whose X-Forwarded-For is believed, comma-separated (env PORTAL_TRUSTED_PROXIES)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("PORTAL_METRICS_ADDR", ""), "listen address of /metrics for Prometheus, e.g. 127.0.0.1:9090; empty: off (env PORTAL_METRICS_ADDR)")
	fs.BoolVar(&c.Quiet, "quiet", false, "do not print the demo banner")
	fs.StringVar(&linkCSP, "link-csp", env("PORTAL_LINK_CSP", "demo"), "demo: the page policy for Link: demo, or live (the policy live mode sends, with the Link simulator as Plaid's CDN) (env PORTAL_LINK_CSP)")
	fs.BoolVar(&c.DemoResetOnStart, "demo-reset-on-start", env("PORTAL_DEMO_RESET_ON_START", "") == "1",
		"demo: start from freshly seeded data; the data dir's demo data is deleted (env PORTAL_DEMO_RESET_ON_START=1)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("-log-level: %w", err)
	}
	d, err := time.ParseDuration(interval)
	if err != nil || d < time.Second {
		return c, errors.New("-sync-interval: give a duration of at least 1s, like 30s")
	}
	c.SyncInterval = d
	switch linkCSP {
	case "demo":
	case "live":
		c.LiveLinkCSP = true
	default:
		return c, errors.New("-link-csp: give demo or live")
	}
	if c.TrustedProxies, err = web.ParseTrustedProxies(proxies); err != nil {
		return c, fmt.Errorf("-trusted-proxies: %w", err)
	}
	if c.TransferLimit, err = connections.ParseTransferLimit(limit); err != nil {
		return c, fmt.Errorf("-transfer-limit: %w", err)
	}
	if c.PlatformScopes, err = platform.ParseScopes(scopes); err != nil {
		return c, fmt.Errorf("-platform-scopes: %w", err)
	}
	if v := getenv("PLATFORMSIM_KEY_SCOPES"); v != "" {
		for _, sc := range strings.Fields(strings.ReplaceAll(v, ",", " ")) {
			if !slices.Contains(platform.AllScopes, sc) {
				return c, fmt.Errorf("PLATFORMSIM_KEY_SCOPES: unknown scope %q", sc)
			}
			c.DemoKeyScopes = append(c.DemoKeyScopes, sc)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return c, errors.New("-metrics-addr: give host:port, like 127.0.0.1:9090")
		}
		if c.MetricsAddr == c.Addr {
			return c, errors.New("-metrics-addr: give an address other than -addr: metrics are never served on the public address")
		}
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return c, err
	}
	if c.DatabaseURL != "" && c.DemoResetOnStart {
		return c, errors.New("-demo-reset-on-start: the demo's reset is SQLite-only; leave -database-url empty to use it")
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.Addr
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, errors.New("PORTAL_BASE_URL: give an absolute http(s) URL")
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")

	c.PlatformURL = getenv("PLATFORM_URL")
	c.PlatformTokenURL = getenv("PLATFORM_TOKEN_URL")
	c.PlatformClientID = getenv("PLATFORM_CLIENT_ID")
	c.PlatformClientSecret = getenv("PLATFORM_CLIENT_SECRET")
	c.PlatformBankGUID = getenv("PLATFORM_BANK_GUID")
	live := []string{c.PlatformURL, c.PlatformTokenURL, c.PlatformClientID, c.PlatformClientSecret, c.PlatformBankGUID}
	set := 0
	for _, v := range live {
		if v != "" {
			set++
		}
	}
	if set != 0 && set != len(live) {
		return c, errors.New("live mode needs all of PLATFORM_URL, PLATFORM_TOKEN_URL, PLATFORM_CLIENT_ID, PLATFORM_CLIENT_SECRET and PLATFORM_BANK_GUID")
	}
	c.PlaidClientID, c.PlaidSecret, c.PlaidEnv = getenv("PLAID_CLIENT_ID"), getenv("PLAID_SECRET"), env("PLAID_ENV", "sandbox")
	if (c.PlaidClientID == "") != (c.PlaidSecret == "") {
		return c, errors.New("real Plaid needs both PLAID_CLIENT_ID and PLAID_SECRET")
	}
	// Live mode may hold Plaid keys to look institution names up; the demo
	// uses Plaid's sandbox only.
	if c.PlaidClientID != "" && c.PlaidEnv != "sandbox" && (c.demo() || c.PlaidEnv != "production") {
		return c, errors.New("PLAID_ENV: only sandbox is supported for the demo (and sandbox or production in live mode)")
	}
	c.SessionKey = getenv("PORTAL_SESSION_KEY")
	c.SMTPHost, c.SMTPUsername, c.SMTPPassword, c.SMTPFrom = getenv("SMTP_HOST"), getenv("SMTP_USERNAME"), getenv("SMTP_PASSWORD"), getenv("SMTP_FROM")
	c.SMTPPort = 587
	if v := getenv("SMTP_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return c, errors.New("SMTP_PORT: give a port number, like 587")
		}
		c.SMTPPort = p
	}
	if c.SMTPHost != "" && !strings.Contains(c.SMTPFrom, "@") {
		return c, errors.New("SMTP_FROM: give the sender address (e.g. portal@bank.example) when SMTP_HOST is set")
	}
	return c, nil
}

func (c config) secureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// checkDatabaseURL accepts an empty URL (SQLite) or a postgres:// one. The
// error never repeats the URL: it may hold a password.
func checkDatabaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("PORTAL_DATABASE_URL: give a postgres://user:password@host:port/database URL, or leave it empty for SQLite in the data directory")
	}
	return nil
}

// openStore opens the configured database: PostgreSQL at databaseURL, or
// else SQLite in dataDir.
func openStore(ctx context.Context, databaseURL, dataDir string) (*store.DB, error) {
	if databaseURL != "" {
		return store.OpenPostgres(ctx, databaseURL)
	}
	return store.Open(ctx, filepath.Join(dataDir, "portal.db"))
}
