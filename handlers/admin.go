package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// AdminHome is the entry of the admin area.
func (h *Handler) AdminHome(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/admin/connections")
}
