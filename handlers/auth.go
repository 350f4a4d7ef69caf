package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// dummyHash is compared against when the email is unknown, so a wrong email
// takes as long as a wrong password and does not reveal who has an account.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), bcrypt.DefaultCost)

const (
	msgBadLogin  = "That email and password do not match an account. Check them and try again."
	msgThrottled = "Too many failed sign-in attempts. Wait a minute, then try again."
	msgDisabled  = "This account is disabled. Contact the bank if you think this is a mistake."
)

// LoginForm shows the sign-in form.
func (h *Handler) LoginForm(c echo.Context) error {
	if _, ok := CurrentUser(c); ok {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return Render(c, http.StatusOK, views.LoginPage(h.Layout(c, "Sign in", ""), views.LoginView{}))
}

// Login checks the credentials and starts a new session.
func (h *Handler) Login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	page := func(status int, msg string) error {
		return Render(c, status, views.LoginPage(h.Layout(c, "Sign in", ""), views.LoginView{Email: email, Error: msg}))
	}
	if email == "" || password == "" {
		return page(http.StatusUnprocessableEntity, "Enter your email and your password.")
	}
	if len(email) > 254 || len(password) > 128 {
		return page(http.StatusUnprocessableEntity, msgBadLogin)
	}
	if _, err := mail.ParseAddress(email); err != nil {
		return page(http.StatusUnprocessableEntity, "Enter a valid email address, like name@example.com.")
	}
	ctx, lower, ip := c.Request().Context(), strings.ToLower(email), c.RealIP()
	blocked, typos, err := h.throttle.blocked(ctx, lower, ip)
	if err != nil {
		return err
	}
	if blocked {
		if err := h.throttle.refused(ctx, ip); err != nil {
			return err
		}
		h.log.Warn("login throttled", "ip", ip)
		return page(http.StatusTooManyRequests, msgThrottled)
	}
	u, err := h.store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash := dummyHash
	if err == nil {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		if err := h.throttle.fail(ctx, lower, ip); err != nil {
			return err
		}
		h.log.Info("login failed", "ip", ip)
		return page(http.StatusUnauthorized, msgBadLogin)
	}
	// Only after the password matched, so the message tells nothing to someone guessing.
	if u.Disabled {
		h.log.Info("login refused: user disabled", "user_id", u.ID)
		return page(http.StatusForbidden, msgDisabled)
	}
	if err := h.throttle.succeed(ctx, lower, ip, typos); err != nil {
		return err
	}
	if err := h.sessions.Start(c, u.ID); err != nil {
		return err
	}
	h.log.Info("login", "user_id", u.ID, "role", u.Role)
	if h.links != nil {
		// Link results refused while the session had ended were kept: finish them now.
		if n, err := h.links.FinishKept(c.Request().Context(), u); err != nil {
			h.log.Error("finish kept link results", "user_id", u.ID, "err", err)
		} else if n > 0 {
			h.log.Info("kept link results finished", "user_id", u.ID, "count", n)
		}
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// Logout revokes the session server-side.
func (h *Handler) Logout(c echo.Context) error {
	if err := h.sessions.End(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// loginThrottle slows password guessing without letting one address lock out
// another person: failures count per email and address together (a person's
// typos), per address (one address spraying many emails), and per email
// across all addresses (a distributed guess at one account). The last limit
// holds back only addresses that have failed themselves, so the account's
// owner, signing in from anywhere else, still gets in. The counts live in
// the store, so every portal instance sharing it counts the same failures.
type loginThrottle struct {
	counts Store
	now    func() time.Time
}

// The limits, each over throttleWindow: a key with this many failures inside
// the window is blocked until the oldest one ages out.
const (
	throttleWindow = time.Minute
	maxPairFails   = 5
	maxAddrFails   = 30
	maxEmailFails  = 20
)

func newLoginThrottle(counts Store, now func() time.Time) *loginThrottle {
	if now == nil {
		now = time.Now
	}
	return &loginThrottle{counts: counts, now: now}
}

func pairKey(email, ip string) store.FailureKey {
	return store.FailureKey{Scope: store.FailurePair, Key: email + "\x00" + ip}
}
func addrKey(ip string) store.FailureKey { return store.FailureKey{Scope: store.FailureAddr, Key: ip} }
func emailKey(email string) store.FailureKey {
	return store.FailureKey{Scope: store.FailureEmail, Key: email}
}

// blocked reports whether the email may not try from the address now, and
// how many of its own recent failures (typos) the pair has.
func (l *loginThrottle) blocked(ctx context.Context, email, ip string) (blocked bool, typos int, err error) {
	n, err := l.counts.LoginFailures(ctx, l.now().Add(-throttleWindow), pairKey(email, ip), addrKey(ip), emailKey(email))
	if err != nil {
		return false, 0, err
	}
	pair, addr, byEmail := n[0], n[1], n[2]
	return pair >= maxPairFails || addr >= maxAddrFails || (byEmail >= maxEmailFails && addr > 0), pair, nil
}

func (l *loginThrottle) fail(ctx context.Context, email, ip string) error {
	now := l.now()
	return l.counts.AddLoginFailures(ctx, now, now.Add(-throttleWindow), pairKey(email, ip), addrKey(ip), emailKey(email))
}

// refused counts a try made while blocked against its address: an address
// that keeps trying stays blocked, and soon for every email.
func (l *loginThrottle) refused(ctx context.Context, ip string) error {
	now := l.now()
	return l.counts.AddLoginFailures(ctx, now, now.Add(-throttleWindow), addrKey(ip))
}

// succeed forgets a person's own typos (when there are any: a sign-in
// without typos writes nothing); the address's count stays, so a sprayer
// cannot reset it with one account it knows.
func (l *loginThrottle) succeed(ctx context.Context, email, ip string, typos int) error {
	if typos == 0 {
		return nil
	}
	return l.counts.ClearLoginFailures(ctx, pairKey(email, ip))
}
