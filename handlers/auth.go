package handlers

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"
	"sync"
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
	emailKey, ip := strings.ToLower(email), c.RealIP()
	if h.throttle.blocked(emailKey, ip) {
		h.throttle.refused(ip)
		h.log.Warn("login throttled", "ip", ip)
		return page(http.StatusTooManyRequests, msgThrottled)
	}
	u, err := h.store.UserByEmail(c.Request().Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	hash := dummyHash
	if err == nil {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		h.throttle.fail(emailKey, ip)
		h.log.Info("login failed", "ip", ip)
		return page(http.StatusUnauthorized, msgBadLogin)
	}
	// Only after the password matched, so the message tells nothing to someone guessing.
	if u.Disabled {
		h.log.Info("login refused: user disabled", "user_id", u.ID)
		return page(http.StatusForbidden, msgDisabled)
	}
	h.throttle.succeed(emailKey, ip)
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
// owner, signing in from anywhere else, still gets in.
type loginThrottle struct {
	pair, addr, email *throttle
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{
		pair:  newThrottle(5, time.Minute),
		addr:  newThrottle(30, time.Minute),
		email: newThrottle(20, time.Minute),
	}
}

func (l *loginThrottle) blocked(email, ip string) bool {
	if l.pair.blocked(email+"\x00"+ip) || l.addr.blocked(ip) {
		return true
	}
	return l.email.blocked(email) && l.addr.count(ip) > 0
}

func (l *loginThrottle) fail(email, ip string) {
	l.pair.fail(email + "\x00" + ip)
	l.addr.fail(ip)
	l.email.fail(email)
}

// refused counts a try made while blocked against its address: an address
// that keeps trying stays blocked, and soon for every email.
func (l *loginThrottle) refused(ip string) { l.addr.fail(ip) }

// succeed forgets a person's own typos; the address's count stays, so a
// sprayer cannot reset it with one account it knows.
func (l *loginThrottle) succeed(email, ip string) {
	l.pair.reset(email + "\x00" + ip)
}

// throttle counts recent failures per key; a key with max failures inside the
// window is blocked until the oldest one ages out.
type throttle struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	failures map[string][]time.Time
	now      func() time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, failures: map[string][]time.Time{}, now: time.Now}
}

func (t *throttle) recent(key string) []time.Time {
	cut := t.now().Add(-t.window)
	fs := t.failures[key]
	i := 0
	for i < len(fs) && !fs[i].After(cut) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.failures, key)
	} else {
		t.failures[key] = fs
	}
	return fs
}

func (t *throttle) blocked(key string) bool { return t.count(key) >= t.max }

func (t *throttle) count(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recent(key))
}

func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) > 100_000 { // a spray of distinct keys: drop the ones that aged out
		for k := range t.failures {
			t.recent(k)
		}
	}
	t.failures[key] = append(t.recent(key), t.now())
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}
