// Package web assembles the portal's HTTP stack: middleware order, sessions,
// CSRF, security headers and CSP, the error handler, static files, and the one
// route table.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/static"
)

// Config is what the HTTP stack needs.
type Config struct {
	Log    *slog.Logger
	Store  SessionStore
	Assets *static.Assets
	// Handler receives every route; its Sessions must be this package's (see NewSessions).
	Handler  *handlers.Handler
	Sessions *Sessions
	// PlaidOrigin is the origin Link's script and frame come from (the CDN in
	// live mode, the local stand-in in demo mode); empty when Link is off.
	PlaidOrigin string
	// PlaidConnect lists extra origins Link's script may call.
	PlaidConnect []string
	// PlaidScript, when set, is the exact URL of Link's script, and the policy
	// takes the form Plaid documents for its CDN script (live mode). Empty:
	// the demo's form, which allows the stand-in's whole origin.
	PlaidScript string
	// SecureCookies marks cookies Secure (the portal is served over TLS).
	SecureCookies bool
	// BodyLimit caps request bodies, e.g. "64K".
	BodyLimit string
	// BaseURL is the portal's public URL; a request whose Origin is its
	// origin is from the portal's own pages even when a proxy rewrote Host.
	BaseURL string
	// TrustedProxies are the peers whose X-Forwarded-For names the client;
	// empty: the client is the direct peer.
	TrustedProxies []*net.IPNet
	// ObserveRequest, when set, is told of every answered request with its
	// route pattern (e.g. /accounts/:guid; "(unmatched)" for unknown paths).
	ObserveRequest func(method, route string, status int, d time.Duration)
}

// New returns the portal's Echo instance, ready to serve.
func New(cfg Config) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = errorHandler(cfg.Log, cfg.Handler)
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "64K"
	}
	link := LinkSource{Origin: cfg.PlaidOrigin, Script: cfg.PlaidScript, Connect: cfg.PlaidConnect}
	csp := func(nonce string) string { return ContentSecurityPolicy(link, nonce) }

	// Order matters: id and recovery first, so every later failure is logged with an id;
	// headers before anything can write; sessions before CSRF and routes that need the user.
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: randomID}))
	e.Use(recoverer(cfg.Log))
	e.Use(requestLogger(cfg.Log, cfg.ObserveRequest))
	e.Use(securityHeaders(csp, cfg.SecureCookies))
	e.Use(middleware.BodyLimit(cfg.BodyLimit))
	e.Use(cfg.Sessions.Middleware)
	e.Use(csrf(cfg.Sessions, cfg.Handler, publicHost(cfg.BaseURL)))

	routes(e, cfg.Handler, cfg.Assets)
	return e
}

// publicHost is the host (and port) of the public URL, "" when not set.
func publicHost(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// ipExtractor finds the client's address. Without trusted proxies it is the
// peer's: a forwarded-for header from the client must not choose which
// address the login throttle counts. With them, X-Forwarded-For is read from
// the right, skipping trusted hops only; Echo trusts loopback, link-local and
// private peers by default, which is turned off here, so only the configured
// ranges count.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ParseTrustedProxies reads a comma- or space-separated list of CIDR ranges
// (a bare address counts as one host).
func ParseTrustedProxies(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return nil, fmt.Errorf("%q is not an address or CIDR range", f)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR range like 10.0.0.0/8", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Route is one entry of the route table; the table is exported so tests can
// check every route against every role.
type Route struct {
	Method, Path string
	Access       string // "public", "user", "customer", "admin", "demo" (demo mode only, else 404)
	handler      func(h *handlers.Handler) echo.HandlerFunc
}

// Routes is the portal's one route table.
func Routes() []Route {
	return []Route{
		{http.MethodGet, "/healthz", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Health }},
		{http.MethodGet, "/readyz", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Ready }},
		{http.MethodGet, "/", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Home }},
		{http.MethodGet, "/login", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.LoginForm }},
		{http.MethodPost, "/login", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Login }},
		{http.MethodPost, "/logout", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.Logout }},
		{http.MethodGet, "/account/password", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.PasswordForm }},
		{http.MethodPost, "/account/password", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.ChangePassword }},
		{http.MethodGet, "/accounts", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.Accounts }},
		{http.MethodGet, "/accounts/:guid", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.Account }},
		{http.MethodPost, "/notifications/:id/dismiss", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.DismissNotification }},
		{http.MethodPost, "/accounts/:guid/hide", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.HideConnection }},
		{http.MethodGet, "/link/:id/review", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.UnselectedReview }},
		{http.MethodPost, "/link/:id/review", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.DisconnectUnselected }},
		{http.MethodPost, "/link/sessions", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.StartLink }},
		{http.MethodGet, "/link/sessions/:id", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.LinkSession }},
		{http.MethodPost, "/link/sessions/:id/callbacks", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.LinkCallback }},
		{http.MethodPost, "/link/sessions/:id/complete", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.CompleteLink }},
		{http.MethodGet, "/link/oauth-return", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.OAuthReturn }},
		// Money movement routes.
		{http.MethodPost, "/accounts/:guid/transfers", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.QuoteTransfer }},
		{http.MethodGet, "/transfers/:key", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.TransferQuote }},
		{http.MethodPost, "/transfers/:key/confirm", "customer", func(h *handlers.Handler) echo.HandlerFunc { return h.ConfirmTransfer }},
		{http.MethodGet, "/admin", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminHome }},
		// Admin bank-connections tab routes go below this line.
		{http.MethodGet, "/admin/connections", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminConnections }},
		{http.MethodGet, "/admin/connections/:guid", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminConnection }},
		{http.MethodGet, "/admin/connections/:guid/confirm/:action", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminConfirm }},
		{http.MethodPost, "/admin/connections/:guid/remind", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminRemind }},
		{http.MethodPost, "/admin/connections/:guid/disconnect", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminDisconnect }},
		{http.MethodPost, "/admin/connections/:guid/refresh", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminRefresh }},
		{http.MethodPost, "/admin/connections/:guid/force-refresh-required", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminForceRefreshRequired }},
		{http.MethodGet, "/admin/link/:id/review", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminLinkReview }},
		{http.MethodPost, "/admin/link/:id/review", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminLinkReviewConfirm }},
		{http.MethodGet, "/admin/notifications", "admin", func(h *handlers.Handler) echo.HandlerFunc { return h.AdminNotifications }},
		// Demo controls: demo mode only ("demo" answers 404 in live mode); anyone may use them there.
		{http.MethodPost, "/demo/switch", "demo", func(h *handlers.Handler) echo.HandlerFunc { return h.DemoSwitch }},
		{http.MethodPost, "/demo/expire", "demo", func(h *handlers.Handler) echo.HandlerFunc { return h.DemoExpire }},
		{http.MethodPost, "/demo/webhook", "demo", func(h *handlers.Handler) echo.HandlerFunc { return h.DemoWebhook }},
		{http.MethodPost, "/demo/platform", "demo", func(h *handlers.Handler) echo.HandlerFunc { return h.DemoPlatform }},
		{http.MethodPost, "/demo/reset", "demo", func(h *handlers.Handler) echo.HandlerFunc { return h.DemoReset }},
		{http.MethodPost, "/demo/tour", "demo", func(h *handlers.Handler) echo.HandlerFunc { return h.DemoTour }},
	}
}

func routes(e *echo.Echo, h *handlers.Handler, assets *static.Assets) {
	for _, r := range Routes() {
		next := r.handler(h)
		switch r.Access {
		case "user":
			next = handlers.RequireUser(next)
		case "customer":
			next = handlers.RequireCustomer(next)
		case "admin":
			next = handlers.RequireAdmin(next)
		case "demo":
			next = h.RequireDemo(next)
		}
		if r.Path == linkCompletePath {
			next = keepRefusedLinkResult(h, next)
		}
		e.Add(r.Method, r.Path, next)
	}
	e.GET(static.Prefix+"*", echo.WrapHandler(assets))
	// Anything else under /admin is still the admin area: refuse before revealing what exists.
	e.Any("/admin/*", handlers.RequireAdmin(func(c echo.Context) error { return echo.ErrNotFound }))
}

// keepRefusedLinkResult keeps a Link result refused for want of a live
// session, so it is finished after the next sign-in instead of lost.
func keepRefusedLinkResult(h *handlers.Handler, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusUnauthorized {
			return h.KeepLinkResult(c, he)
		}
		return err
	}
}

// LinkSource is where Plaid Link comes from, as the CSP must name it.
type LinkSource struct {
	// Origin serves Link's script and frame (Plaid's CDN, or the stand-in);
	// empty when Link is off.
	Origin string
	// Script is the exact URL of Link's script. Set, the policy is the one
	// Plaid documents for live mode: the script by its URL, Plaid's origin as
	// default-src and frame-src. Empty, the demo's: the whole origin.
	Script string
	// Connect lists the Plaid API origins Link may call.
	Connect []string
}

// ContentSecurityPolicy builds the policy of one response around its nonce.
// Scripts: our own files, Link's script, and nothing inline without the nonce
// (never 'unsafe-inline'). Styles: our own files and, with the nonce, the
// style element Link's SDK injects. When Link is on, style attributes are
// allowed too: the SDK sets inline style attributes, which cannot carry a
// nonce, and a nonce in the same list would make browsers ignore
// 'unsafe-inline' (CSP3), so style-src-attr gets 'unsafe-inline' alone, as
// Plaid documents. Our own markup has no style attributes (tests check).
func ContentSecurityPolicy(link LinkSource, nonce string) string {
	n := " 'nonce-" + nonce + "'"
	def, script, frame, conn, attr := "'self'", "'self'", "'none'", "'self'", "'none'"
	if link.Origin != "" {
		frame, attr = link.Origin+"/", "'unsafe-inline'"
		if link.Script != "" {
			def += " " + link.Origin + "/"
			script += " " + link.Script
		} else {
			script += " " + link.Origin
			conn += " " + link.Origin
		}
	}
	if len(link.Connect) > 0 {
		conn += " " + strings.Join(link.Connect, " ")
	}
	return "default-src " + def + "; script-src " + script + n + "; style-src 'self'" + n + "; style-src-elem 'self'" + n +
		"; style-src-attr " + attr + "; img-src 'self' data:; font-src 'self'; connect-src " + conn + "; frame-src " + frame +
		"; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
