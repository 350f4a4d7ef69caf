// Package handlers holds the portal's HTTP handlers, one file per area. A
// handler reads input, validates it, calls the domain or the store, builds a
// view model and renders it; errors go back to the central error handler.
package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// Store is what the handlers read and write directly.
type Store interface {
	UserByEmail(ctx context.Context, email string) (store.User, error)
	// SetPassword replaces a user's password and revokes every session of the user.
	SetPassword(ctx context.Context, userID int64, hash string) error
	CustomerAccounts(ctx context.Context, customerGUID string) ([]store.Account, error)
	CustomerAccount(ctx context.Context, customerGUID, guid string) (store.Account, error)
	ActiveNotifications(ctx context.Context, customerGUID string) ([]store.Notification, error)
	DismissNotification(ctx context.Context, customerGUID string, id int64) error
	QueuedCompletions(ctx context.Context, customerGUID string) ([]store.Completion, error)
	Job(ctx context.Context, name string) (store.JobStatus, error)
	Ping(ctx context.Context) error
	// Failed sign-ins, counted for every instance sharing the store (see loginThrottle).
	LoginFailures(ctx context.Context, since time.Time, keys ...store.FailureKey) ([]int, error)
	AddLoginFailures(ctx context.Context, at, forgetBefore time.Time, keys ...store.FailureKey) error
	ClearLoginFailures(ctx context.Context, k store.FailureKey) error
}

// Sessions starts and ends signed-in sessions (implemented by package web).
type Sessions interface {
	// Start replaces any current session with a new one for the user.
	Start(c echo.Context, userID int64) error
	// End revokes the current session server-side and clears the cookie.
	End(c echo.Context) error
}

// Syncer refreshes the local copy from the platform without making the caller wait.
type Syncer interface {
	// SyncIfStale starts a background sync when the local data is older than
	// the freshness bound; it never blocks on the platform.
	SyncIfStale(ctx context.Context) bool
}

// Options are the handlers' settings.
type Options struct {
	// LinkEnabled turns on the Link buttons (when the Link flows are wired).
	LinkEnabled bool
	// Scripts are extra script URLs every signed-in page loads (Link SDK, glue).
	Scripts []string
	// ThrottleClock is the login throttles' clock; nil is time.Now. Tests
	// freeze it: under the race detector 30 logins can take over a minute.
	ThrottleClock func() time.Time
}

// Deps are the parts the handlers call, built before the handlers. A nil
// feature field switches that feature off.
type Deps struct {
	Store    Store
	Sessions Sessions
	Assets   *static.Assets
	// Syncer refreshes the local copy on reads; nil: no sync on reads.
	Syncer Syncer
	// Links runs the Link flows. Required by the Link routes and sign-in
	// (kept results); Options.LinkEnabled only shows or hides the buttons.
	Links Links
	// Admin serves the admin tab. Required: the admin routes call it (unlike
	// Transfers, Demo and Ready, nil does not switch a feature off).
	Admin Admin
	// Transfers moves money; nil: deposits and withdrawals are switched off
	// (the platform key lacks their scopes), and each connection says so.
	Transfers Transfers
	// Demo serves the Demo controls; nil in live mode, where its routes answer 404.
	Demo Demo
	// Ready checks the platform for /readyz; nil: /readyz says no platform is configured.
	Ready Readiness
}

// Handler is the receiver of every route.
type Handler struct {
	log       *slog.Logger
	store     Store
	sessions  Sessions
	syncer    Syncer
	links     Links
	admin     Admin
	transfers Transfers // nil: switched off
	demo      Demo      // nil in live mode
	ready     Readiness // nil: no platform configured
	assets    *static.Assets
	opts      Options
	// throttle slows sign-in and password-change guessing (see loginThrottle).
	throttle *loginThrottle
}

// New builds the handlers from their dependencies.
func New(log *slog.Logger, d Deps, opts Options) *Handler {
	h := &Handler{
		log: log, store: d.Store, sessions: d.Sessions, syncer: d.Syncer, links: d.Links, admin: d.Admin,
		transfers: d.Transfers, demo: d.Demo, ready: d.Ready, assets: d.Assets, opts: opts,
		throttle: newLoginThrottle(d.Store, opts.ThrottleClock),
	}
	return h
}

const userKey = "portal.user"

// SetUser records the signed-in user for this request (called by web's session middleware).
func SetUser(c echo.Context, u store.User) { c.Set(userKey, u) }

// CurrentUser returns the signed-in user, if any.
func CurrentUser(c echo.Context) (store.User, bool) {
	u, ok := c.Get(userKey).(store.User)
	return u, ok
}

// CSRFKey is the context key under which web's CSRF middleware stores the token.
const CSRFKey = "portal.csrf"

// NonceKey is the context key under which web's header middleware stores
// this response's CSP nonce.
const NonceKey = "portal.csp_nonce"

// Layout builds the common page frame for this request.
func (h *Handler) Layout(c echo.Context, title, nav string) views.Layout {
	l := views.Layout{Title: title, Nav: nav, CSS: h.assets.URL("app.css"), Icon: h.assets.URL("favicon.svg"), Scripts: []string{h.assets.URL("app.js")}}
	l.CSRF, _ = c.Get(CSRFKey).(string)
	l.Nonce, _ = c.Get(NonceKey).(string)
	if u, ok := CurrentUser(c); ok {
		l.SignedIn, l.UserEmail, l.IsAdmin = true, u.Email, u.IsAdmin()
		l.Scripts = append(l.Scripts, h.opts.Scripts...)
	}
	l.Demo = h.demoPanel(c)
	return l
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render renders a component into a buffer first, so a failing render still reaches the error handler.
func Render(c echo.Context, status int, comp templ.Component) error {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// RequireUser refuses anonymous requests: pages redirect to the login form, APIs get 401.
func RequireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := CurrentUser(c); !ok {
			if c.Request().Method == http.MethodGet && !WantsJSON(c) {
				return c.Redirect(http.StatusSeeOther, "/login")
			}
			return echo.NewHTTPError(http.StatusUnauthorized, "Please sign in.")
		}
		return next(c)
	}
}

// RequireCustomer lets only customers through; admins have their own area.
func RequireCustomer(next echo.HandlerFunc) echo.HandlerFunc {
	return RequireUser(func(c echo.Context) error {
		if u, _ := CurrentUser(c); u.CustomerGUID == "" {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		return next(c)
	})
}

// RequireAdmin lets only admins through; a customer gets 403.
func RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return RequireUser(func(c echo.Context) error {
		if u, _ := CurrentUser(c); !u.IsAdmin() {
			return echo.NewHTTPError(http.StatusForbidden, "This area is for the bank's administrators.")
		}
		return next(c)
	})
}

// Health answers whether the portal and its database are up.
func (h *Handler) Health(c echo.Context) error {
	if err := h.store.Ping(c.Request().Context()); err != nil {
		return err
	}
	return c.String(http.StatusOK, "ok")
}

// Readiness tells whether the platform can be worked with now.
type Readiness interface {
	// Ready reports whether a platform token can be had (cached briefly).
	Ready(ctx context.Context) error
}

// Ready answers whether this instance should get traffic: 200 when the
// database answers and a platform token can be had, else 503 with a plain
// body naming what is down (the details go to the log, not to the caller).
func (h *Handler) Ready(c echo.Context) error {
	ctx := c.Request().Context()
	var down []string
	if err := h.store.Ping(ctx); err != nil {
		h.log.Warn("not ready: database", "err", err)
		down = append(down, "database: not answering")
	}
	switch {
	case h.ready == nil:
		down = append(down, "platform token: no platform configured")
	default:
		if err := h.ready.Ready(ctx); err != nil {
			h.log.Warn("not ready: platform token", "err", err)
			down = append(down, "platform token: cannot be had")
		}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if len(down) > 0 {
		return c.String(http.StatusServiceUnavailable, "not ready\n"+strings.Join(down, "\n")+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// Home sends people where they belong. It also finishes Link results that
// were kept because a stale tab posted them (see KeepLinkResult): the glue
// sends the person here when that happens.
func (h *Handler) Home(c echo.Context) error {
	u, ok := CurrentUser(c)
	if ok && h.links != nil {
		if _, err := h.links.FinishKept(c.Request().Context(), u); err != nil {
			h.log.Error("finish kept link results", "user_id", u.ID, "err", err)
		}
	}
	switch {
	case !ok:
		return c.Redirect(http.StatusSeeOther, "/login")
	case u.IsAdmin():
		return c.Redirect(http.StatusSeeOther, "/admin/connections")
	default:
		return c.Redirect(http.StatusSeeOther, "/accounts")
	}
}
