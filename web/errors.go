package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

var friendly = map[int]views.ErrorView{
	http.StatusBadRequest:            {Heading: "That request was not understood", Message: "Something in the request was not valid. Go back and try again."},
	http.StatusUnauthorized:          {Heading: "Please sign in", Message: "Sign in to continue."},
	http.StatusForbidden:             {Heading: "Not allowed", Message: "You do not have access to this page."},
	http.StatusNotFound:              {Heading: "Page not found", Message: "We could not find that page. It may have moved, or you may not have access to it."},
	http.StatusMethodNotAllowed:      {Heading: "Not allowed", Message: "That action is not available here."},
	http.StatusConflict:              {Heading: "That cannot be done now", Message: "The connection is no longer in a state that allows this. Go back and look at it again."},
	http.StatusUnprocessableEntity:   {Heading: "That did not work", Message: "Nothing was changed. Go back and try again."},
	http.StatusBadGateway:            {Heading: "The bank platform did not answer", Message: "Nothing was changed. Try again in a moment."},
	http.StatusRequestEntityTooLarge: {Heading: "Too large", Message: "What you sent is larger than we accept."},
	http.StatusTooManyRequests:       {Heading: "Slow down", Message: "Too many requests. Wait a minute, then try again."},
	http.StatusInternalServerError:   {Heading: "Something went wrong", Message: "Internal error. We have logged it; please try again in a moment."},
}

// errorHandler maps errors to responses in one place: a domain refusal →
// its kind's status (handlers.Status) and its message, ErrNotFound → 404, an
// *echo.HTTPError → its code and its (user-facing) message, anything else →
// 500 "Internal error.", logged with the request id. Internals never reach the user.
func errorHandler(log *slog.Logger, h *handlers.Handler) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, msg := http.StatusInternalServerError, ""
		var he *echo.HTTPError
		var ce *connections.Error
		switch {
		case errors.As(err, &ce):
			status, msg = handlers.Status(ce.Kind), ce.Message
		case errors.Is(err, store.ErrNotFound):
			status = http.StatusNotFound
		case errors.As(err, &he):
			status = he.Code
			if s, ok := he.Message.(string); ok && he.Internal == nil && status != http.StatusNotFound {
				msg = s
			}
		}
		if status >= 500 {
			log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method, "route", c.Path(), "err", err)
			msg = ""
		}
		v, ok := friendly[status]
		if !ok {
			v = views.ErrorView{Heading: http.StatusText(status), Message: "That did not work."}
		}
		v.Status = status
		if msg != "" && msg != http.StatusText(status) {
			v.Message = msg
		}
		if status == http.StatusInternalServerError {
			v.Message = "Internal error. We have logged it; please try again in a moment."
		}
		if c.Request().Method == http.MethodHead {
			c.NoContent(status)
			return
		}
		if handlers.WantsJSON(c) {
			c.JSON(status, map[string]string{"error": v.Message})
			return
		}
		if err := handlers.Render(c, status, views.ErrorPage(h.Layout(c, v.Heading, ""), v)); err != nil {
			log.Error("render error page", "request_id", requestID(c), "err", err)
			c.String(http.StatusInternalServerError, "Internal error.")
		}
	}
}
