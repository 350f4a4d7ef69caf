package web

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/static"
)

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.Error("panic", "request_id", requestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return next(c)
		}
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// requestLogger logs one line per request: never the query string or body,
// which may carry tokens. observe, when set, gets the same figures (route is
// the route's pattern, so metrics stay bounded whatever the paths).
func requestLogger(log *slog.Logger, observe func(method, route string, status int, d time.Duration)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			path := c.Path()
			if path == "" {
				path = "(unmatched)"
			}
			d := time.Since(start)
			log.Debug("request", "request_id", requestID(c), "method", c.Request().Method, "route", path,
				"status", c.Response().Status, "duration_ms", d.Milliseconds())
			if observe != nil {
				observe(c.Request().Method, path, c.Response().Status, d)
			}
			return nil
		}
	}
}

// newNonce returns a fresh CSP nonce: 128 random bits, base64 as CSP wants.
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// securityHeaders sets the headers every response carries. The CSP is built
// per response around a fresh nonce (see ContentSecurityPolicy), which views
// put on the page's own script and style tags and Link's SDK copies onto the
// style element it injects.
func securityHeaders(csp func(nonce string) string, tls bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			nonce := newNonce()
			c.Set(handlers.NonceKey, nonce)
			h := c.Response().Header()
			h.Set("Content-Security-Policy", csp(nonce))
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			if tls {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			return next(c)
		}
	}
}

// linkCompletePath is the route whose refused requests are kept: a Link
// result cannot be asked for again, so it waits server-side for the next sign-in.
const linkCompletePath = "/link/sessions/:id/complete"

// csrf protects every state-changing request twice: the browser must not say
// the request came from another site (Sec-Fetch-Site, or, from browsers that
// do not send it, Origin), and the request must echo the session's CSRF token
// in the X-CSRF-Token header or the _csrf form field (never the query string,
// which ends up in logs and Referer headers). The token is derived from the
// session cookie (SameSite=Lax), so arriving from another site, which sends
// that cookie along, never changes it.
func csrf(s *Sessions, h *handlers.Handler, publicHost string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				if c.Path() == "/healthz" || c.Path() == "/readyz" || strings.HasPrefix(c.Path(), static.Prefix) {
					return next(c) // probes and (shared-cacheable) assets get no cookie
				}
				v, err := s.ensureCookie(c)
				if err != nil {
					return err
				}
				c.Set(handlers.CSRFKey, s.csrfToken(v))
				return next(c)
			}
			if crossSite(r, publicHost) {
				return echo.NewHTTPError(http.StatusForbidden, "This request came from another site and was refused.")
			}
			v, _ := c.Get(cookieValuesKey).(sessionCookieValues)
			sent := r.Header.Get("X-CSRF-Token")
			if sent == "" && !strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON) {
				sent = r.PostFormValue("_csrf") // the body only: FormValue would read the query too
			}
			if (v.sid == "" && v.anon == "") || !hmac.Equal([]byte(sent), []byte(s.csrfToken(v))) {
				refusal := echo.NewHTTPError(http.StatusForbidden, "Your session form expired. Reload the page and try again.")
				if c.Path() == linkCompletePath {
					return h.KeepLinkResult(c, refusal)
				}
				return refusal
			}
			c.Set(handlers.CSRFKey, s.csrfToken(v))
			return next(c)
		}
	}
}

// crossSite reports whether the browser says the request came from another
// site: Sec-Fetch-Site when it is sent, else an Origin that is neither this
// request's host nor the public URL's.
func crossSite(r *http.Request, publicHost string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	case "":
		origin := r.Header.Get("Origin")
		if origin == "" {
			return false // not a browser, or an old one: the token still decides
		}
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return true
		}
		return !strings.EqualFold(u.Host, r.Host) && !strings.EqualFold(u.Host, publicHost)
	}
	return false
}
