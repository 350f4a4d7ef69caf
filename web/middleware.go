package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/handlers"
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
// which may carry tokens.
func requestLogger(log *slog.Logger) echo.MiddlewareFunc {
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
			log.Debug("request", "request_id", requestID(c), "method", c.Request().Method, "route", path,
				"status", c.Response().Status, "duration_ms", time.Since(start).Milliseconds())
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

const csrfCookie = "portal_csrf"

// csrf protects every state-changing request twice: the browser's
// Sec-Fetch-Site must not say cross-site, and the request must echo the token
// of its HttpOnly, SameSite=Strict cookie (form field _csrf, header
// X-CSRF-Token, or query _csrf for sendBeacon, which cannot set headers).
func csrf(secure bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			token := ""
			if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 64 {
				token = ck.Value
			}
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
			default:
				if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
					return echo.NewHTTPError(http.StatusForbidden, "This request came from another site and was refused.")
				}
				sent := r.Header.Get("X-CSRF-Token")
				if sent == "" {
					sent = c.FormValue("_csrf")
				}
				if sent == "" {
					sent = c.QueryParam("_csrf")
				}
				if token == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
					return echo.NewHTTPError(http.StatusForbidden, "Your session form expired. Reload the page and try again.")
				}
			}
			if token == "" {
				token = randomID() + randomID()
				c.SetCookie(&http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
			}
			c.Set(handlers.CSRFKey, token)
			return next(c)
		}
	}
}
