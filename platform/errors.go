package platform

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Error is the platform's error body, {"status","error_message","message_code"}.
// Status is 0 when no response arrived (a network timeout after the retries);
// MessageCode is then "request_timeout".
type Error struct {
	Status       int    `json:"status"`
	ErrorMessage string `json:"error_message"`
	MessageCode  string `json:"message_code"`

	err error // the transport error behind a Status 0
}

func (e *Error) Error() string {
	status := "no response"
	if e.Status != 0 {
		status = strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	}
	return fmt.Sprintf("platform: %s: %s (%s)", status, e.ErrorMessage, e.MessageCode)
}

func (e *Error) Unwrap() error { return e.err }

// Message codes of the contract.
const (
	CodeInvalidValue            = "invalid_value"
	CodeMissingParameter        = "missing_parameter"
	CodeInvalidParameter        = "invalid_parameter"
	CodeInvalidSubject          = "invalid_subject"
	CodeAuthenticationFailed    = "authentication_failed"
	CodeAuthenticationMalformed = "authentication_malformed"
	CodeInvalidScopes           = "invalid_scopes"
	CodeNotFound                = "not_found"
	CodeNoCustomer              = "no_customer"
	CodeRequestTimeout          = "request_timeout"
)

// RefreshRequiredMessage is the error_message of the 422 that a forced balance
// refresh answers when the bank login has expired.
const RefreshRequiredMessage = "Bank account refresh required"

// IsNotFound reports whether err is the platform's 404.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsRefreshRequired reports whether err is the 422 of a forced balance refresh
// on an account whose bank login expired (the account is now refresh_required).
func IsRefreshRequired(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity {
		return false
	}
	return strings.Contains(strings.ToLower(e.ErrorMessage), "refresh required")
}

// IsTemporary reports whether err may go away by itself: no response, 408,
// 429 or 5xx. A durable queue of platform calls retries these later.
func IsTemporary(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == 0 || retryableStatus(e.Status)
}

func hasStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}
