package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/connections"
)

// kindStatus is the one map from the domain's kinds of refusal to HTTP
// statuses; web's error handler, the Link glue's JSON and the transfer form
// all answer with it.
var kindStatus = map[connections.Kind]int{
	connections.KindInvalid:     http.StatusBadRequest,
	connections.KindForbidden:   http.StatusForbidden,
	connections.KindNotFound:    http.StatusNotFound,
	connections.KindConflict:    http.StatusConflict,
	connections.KindRejected:    http.StatusUnprocessableEntity,
	connections.KindTooMany:     http.StatusTooManyRequests,
	connections.KindUnavailable: http.StatusBadGateway,
}

// Status is the HTTP status of a kind of refusal (500 for a kind it does not know).
func Status(k connections.Kind) int {
	if s, ok := kindStatus[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WantsJSON reports whether the request is the Link glue's (or another
// script's), which reads errors as JSON rather than as a page.
func WantsJSON(c echo.Context) bool {
	r := c.Request()
	return r.Header.Get("Accept") == "application/json" || r.Header.Get("Content-Type") == "application/json"
}

// linkRefusal answers a domain refusal to the Link glue in its own JSON: the
// message, plus the code it branches on and the connection a duplicate would
// have repeated. Anything else goes to the central error handler.
func linkRefusal(c echo.Context, err error) error {
	var ce *connections.Error
	if !errors.As(err, &ce) || !WantsJSON(c) {
		return err
	}
	return c.JSON(Status(ce.Kind), linkErrorJSON{Error: ce.Message, Code: ce.Code, ExistingGUID: ce.ExistingGUID})
}

// linkErrorJSON is a refusal as the Link glue reads it.
type linkErrorJSON struct {
	Error        string `json:"error"`
	Code         string `json:"code"`
	ExistingGUID string `json:"existing_guid"`
}
