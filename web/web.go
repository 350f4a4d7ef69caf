// Package web assembles the portal's HTTP stack: middleware order, sessions,
// CSRF, security headers and CSP, the error handler, static files, and the one
// route table.
package web

import (
	"log/slog"
	"net/http"
	"strings"

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
	// SecureCookies marks cookies Secure (the portal is served over TLS).
	SecureCookies bool
	// BodyLimit caps request bodies, e.g. "64K".
	BodyLimit string
}

// New returns the portal's Echo instance, ready to serve.
func New(cfg Config) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The client's address is the peer's: a forwarded-for header from the
	// client must not choose which address the login throttle counts.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = errorHandler(cfg.Log, cfg.Handler)
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "64K"
	}
	csp := ContentSecurityPolicy(cfg.PlaidOrigin, cfg.PlaidConnect)

	// Order matters: id and recovery first, so every later failure is logged with an id;
	// headers before anything can write; sessions before CSRF and routes that need the user.
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: randomID}))
	e.Use(recoverer(cfg.Log))
	e.Use(requestLogger(cfg.Log))
	e.Use(securityHeaders(csp, cfg.SecureCookies))
	e.Use(middleware.BodyLimit(cfg.BodyLimit))
	e.Use(cfg.Sessions.Middleware)
	e.Use(csrf(cfg.SecureCookies))

	routes(e, cfg.Handler, cfg.Assets)
	return e
}

// Route is one entry of the route table; the table is exported so tests can
// check every route against every role.
type Route struct {
	Method, Path string
	Access       string // "public", "user", "customer", "admin"
	handler      func(h *handlers.Handler) echo.HandlerFunc
}

// Routes is the portal's one route table.
func Routes() []Route {
	return []Route{
		{http.MethodGet, "/healthz", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Health }},
		{http.MethodGet, "/", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Home }},
		{http.MethodGet, "/login", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.LoginForm }},
		{http.MethodPost, "/login", "public", func(h *handlers.Handler) echo.HandlerFunc { return h.Login }},
		{http.MethodPost, "/logout", "user", func(h *handlers.Handler) echo.HandlerFunc { return h.Logout }},
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
		}
		e.Add(r.Method, r.Path, next)
	}
	e.GET(static.Prefix+"*", echo.WrapHandler(assets))
	// Anything else under /admin is still the admin area: refuse before revealing what exists.
	e.Any("/admin/*", handlers.RequireAdmin(func(c echo.Context) error { return echo.ErrNotFound }))
}

// ContentSecurityPolicy builds the policy once: no inline script or style anywhere;
// Link's script and frame from its own origin only.
func ContentSecurityPolicy(plaidOrigin string, connect []string) string {
	script, frame, conn := "'self'", "'none'", "'self'"
	if plaidOrigin != "" {
		script += " " + plaidOrigin
		frame = plaidOrigin
		conn += " " + plaidOrigin
	}
	if len(connect) > 0 {
		conn += " " + strings.Join(connect, " ")
	}
	return "default-src 'self'; script-src " + script + "; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
		"connect-src " + conn + "; frame-src " + frame + "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
}
