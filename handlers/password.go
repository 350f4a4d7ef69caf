package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/views"
)

// MinPasswordLength and MaxPasswordLength bound a new password; bcrypt reads
// at most 72 bytes, so anything longer would be silently cut.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 72
)

// PasswordForm shows the signed-in user's password change form.
func (h *Handler) PasswordForm(c echo.Context) error {
	return h.passwordPage(c, http.StatusOK, views.PasswordView{MinLength: MinPasswordLength, Done: c.QueryParam("changed") == "1"})
}

func (h *Handler) passwordPage(c echo.Context, status int, v views.PasswordView) error {
	return Render(c, status, views.PasswordPage(h.Layout(c, "Change your password", ""), v))
}

// ChangePassword checks the current password, sets the new one and ends every
// session of the user; this browser continues in a fresh one.
func (h *Handler) ChangePassword(c echo.Context) error {
	u, _ := CurrentUser(c)
	current, next, confirm := c.FormValue("current_password"), c.FormValue("new_password"), c.FormValue("confirm_password")
	v := views.PasswordView{MinLength: MinPasswordLength}
	refuse := func(status int, msg string) error {
		v.Error = msg
		return h.passwordPage(c, status, v)
	}
	// Guessing the current password here is throttled like signing in.
	ctx, key, ip := c.Request().Context(), "password:"+strconv.FormatInt(u.ID, 10), c.RealIP()
	blocked, typos, err := h.throttle.blocked(ctx, key, ip)
	if err != nil {
		return err
	}
	if blocked {
		return refuse(http.StatusTooManyRequests, "Too many wrong passwords. Wait a minute, then try again.")
	}
	switch {
	case current == "" || next == "" || confirm == "":
		return refuse(http.StatusUnprocessableEntity, "Fill in all three fields.")
	case len(current) > 128:
		return refuse(http.StatusUnprocessableEntity, "Your current password is not right. Nothing was changed.")
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		if err := h.throttle.fail(ctx, key, ip); err != nil {
			return err
		}
		return refuse(http.StatusUnprocessableEntity, "Your current password is not right. Nothing was changed.")
	}
	switch {
	case len(next) < MinPasswordLength:
		return refuse(http.StatusUnprocessableEntity, "The new password needs at least "+strconv.Itoa(MinPasswordLength)+" characters. Nothing was changed.")
	case len(next) > MaxPasswordLength:
		return refuse(http.StatusUnprocessableEntity, "The new password can have at most "+strconv.Itoa(MaxPasswordLength)+" bytes. Nothing was changed.")
	case next != confirm:
		return refuse(http.StatusUnprocessableEntity, "The new password and its confirmation differ. Nothing was changed.")
	case next == current:
		return refuse(http.StatusUnprocessableEntity, "The new password is the same as the current one. Nothing was changed.")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	if err := h.store.SetPassword(c.Request().Context(), u.ID, string(hash)); err != nil {
		return err
	}
	if err := h.throttle.succeed(ctx, key, ip, typos); err != nil {
		return err
	}
	h.log.Info("password changed; every session revoked", "user_id", u.ID)
	if err := h.sessions.Start(c, u.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account/password?changed=1")
}
