package handlers

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/views"
)

// Demo drives the offline demo's simulators for the Demo controls panel.
// cmd/portal wires it in demo mode; in live mode it is nil and every demo
// route answers 404. Each action returns one sentence for the salesperson.
type Demo interface {
	// Logins are the demo's people, whom the panel signs in without a password.
	Logins() []views.DemoLogin
	// Platform is the injected fault now: "normal", "failing" or "slow", and when it ends.
	Platform() (mode string, until time.Time)
	// ResetReady tells whether the seeded state was kept, so Reset can restore it.
	ResetReady() bool
	ExpireConnection(ctx context.Context, customerGUID string) (string, error)
	FireWebhook(ctx context.Context, customerGUID, code string) (string, error)
	FailPlatform(ctx context.Context) (string, error)
	SlowPlatform(ctx context.Context) (string, error)
	RecoverPlatform(ctx context.Context) (string, error)
	// Reset puts every connection, transfer, banner, notification and
	// session back to the seeded state.
	Reset(ctx context.Context) (string, error)
}

// tourCookie remembers how far this browser got in the guided tour.
const tourCookie = "demo_tour"

// demoPanel builds the panel for this request; nil outside the demo. The
// page to come back to is the path alone: a query may carry a Link state.
func (h *Handler) demoPanel(c echo.Context) *views.DemoPanel {
	if h.demo == nil {
		return nil
	}
	p := &views.DemoPanel{CSS: h.assets.URL("demo.css"), Script: h.assets.URL("demo.js"), Return: returnPath(c.Request().URL.Path),
		Logins: h.demo.Logins(), ResetReady: h.demo.ResetReady(), TourStep: 1}
	p.Platform, p.Until = h.demo.Platform()
	if u, ok := CurrentUser(c); ok {
		p.Current, p.Customer = u.Email, u.CustomerGUID != ""
	}
	if ck, err := c.Cookie(tourCookie); err == nil {
		if n, err := strconv.Atoi(ck.Value); err == nil && n >= 1 && n <= views.TourSteps {
			p.TourStep = n
		} else {
			p.TourStep = 0 // done
		}
	}
	return p
}

// returnPath keeps a page to come back to only when it is a path of this
// site: never another origin, never a scheme-relative URL.
func returnPath(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") || len(s) > 512 {
		return "/"
	}
	return s
}

// demoDone answers an action: the sentence for the panel's script, or back
// to the page for a plain form.
func demoDone(c echo.Context, msg string) error {
	if WantsJSON(c) {
		return c.JSON(http.StatusOK, map[string]string{"message": msg})
	}
	return c.Redirect(http.StatusSeeOther, returnPath(c.FormValue("return")))
}

// demoCustomer is the signed-in customer the connection stories act on.
func demoCustomer(c echo.Context) (string, error) {
	u, ok := CurrentUser(c)
	if !ok || u.CustomerGUID == "" {
		return "", echo.NewHTTPError(http.StatusConflict, "Sign in as Alice or Bob first: this story needs a customer.")
	}
	return u.CustomerGUID, nil
}

// DemoSwitch signs in as one of the demo's people without a password, in a
// fresh session. Only the demo's own logins can be chosen.
func (h *Handler) DemoSwitch(c echo.Context) error {
	email := c.FormValue("email")
	known := false
	for _, l := range h.demo.Logins() {
		known = known || l.Email == email
	}
	if !known {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose one of the demo's people.")
	}
	u, err := h.store.UserByEmail(c.Request().Context(), email)
	if err != nil {
		return err
	}
	if err := h.sessions.Start(c, u.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// DemoExpire expires one of the signed-in customer's connections.
func (h *Handler) DemoExpire(c echo.Context) error {
	cust, err := demoCustomer(c)
	if err != nil {
		return err
	}
	msg, err := h.demo.ExpireConnection(c.Request().Context(), cust)
	if err != nil {
		return err
	}
	return demoDone(c, msg)
}

// DemoWebhook has Plaid fire a webhook for one of the customer's connections.
func (h *Handler) DemoWebhook(c echo.Context) error {
	code := c.FormValue("code")
	if code != "ITEM_LOGIN_REQUIRED" && code != "PENDING_DISCONNECT" {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose ITEM_LOGIN_REQUIRED or PENDING_DISCONNECT.")
	}
	cust, err := demoCustomer(c)
	if err != nil {
		return err
	}
	msg, err := h.demo.FireWebhook(c.Request().Context(), cust, code)
	if err != nil {
		return err
	}
	return demoDone(c, msg)
}

// DemoPlatform makes the platform fail, slow, or recover.
func (h *Handler) DemoPlatform(c echo.Context) error {
	ctx := c.Request().Context()
	var msg string
	var err error
	switch c.FormValue("mode") {
	case "fail":
		msg, err = h.demo.FailPlatform(ctx)
	case "slow":
		msg, err = h.demo.SlowPlatform(ctx)
	case "recover":
		msg, err = h.demo.RecoverPlatform(ctx)
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "Choose fail, slow or recover.")
	}
	if err != nil {
		return err
	}
	return demoDone(c, msg)
}

// DemoReset puts the demo back to its seeded state. Every session ends; the
// person who pressed it is signed in again, in a fresh session.
func (h *Handler) DemoReset(c echo.Context) error {
	ctx := c.Request().Context()
	u, signedIn := CurrentUser(c)
	if _, err := h.demo.Reset(ctx); err != nil {
		return err
	}
	if signedIn {
		if nu, err := h.store.UserByEmail(ctx, u.Email); err == nil {
			if err := h.sessions.Start(c, nu.ID); err != nil {
				return err
			}
		}
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// DemoTour moves the guided tour on, or closes it for good in this browser.
func (h *Handler) DemoTour(c echo.Context) error {
	step := c.FormValue("step")
	if n, err := strconv.Atoi(step); (err != nil || n < 1 || n > views.TourSteps) && step != "done" {
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown tour step.")
	}
	c.SetCookie(&http.Cookie{Name: tourCookie, Value: step, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
		Secure: c.Scheme() == "https", SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, returnPath(c.FormValue("return")))
}

// RequireDemo answers 404 outside the demo, before anything else is looked at.
func (h *Handler) RequireDemo(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if h.demo == nil {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		return next(c)
	}
}
