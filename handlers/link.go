package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// Links is the Link flow of the connections domain.
type Links interface {
	StartLink(ctx context.Context, u store.User, mode, accountGUID string) (store.LinkSession, error)
	LinkSession(ctx context.Context, u store.User, id string) (store.LinkSession, error)
	RecordCallback(ctx context.Context, u store.User, id string, cb connections.LinkCallback) (store.LinkSession, error)
	Complete(ctx context.Context, u store.User, id string, in connections.Success) (connections.CompletionResult, error)
	// KeepResult stores a Link result whose request was refused (no live
	// session, or a stale CSRF token) until its owner signs in again.
	KeepResult(ctx context.Context, sessionID, id string, in connections.Success) (bool, error)
	// FinishKept completes the user's kept Link results and reports how many.
	FinishKept(ctx context.Context, u store.User) (int, error)
	UnselectedReview(ctx context.Context, u store.User, id string) (connections.UnselectedReview, error)
	DisconnectUnselected(ctx context.Context, u store.User, id string) error
	HideConnection(ctx context.Context, u store.User, guid string) error
}

var _ Links = (*connections.Service)(nil)

// linkSessionJSON is what the Link glue reads about a session. The link token
// goes only to the user who started the session, and only to the script.
type linkSessionJSON struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Mode        string `json:"mode"`
	AccountGUID string `json:"account_guid,omitempty"`
	LinkToken   string `json:"link_token,omitempty"`
	Message     string `json:"message,omitempty"`
}

func sessionJSON(ls store.LinkSession) linkSessionJSON {
	j := linkSessionJSON{ID: ls.ID, State: ls.State, Mode: ls.Mode, AccountGUID: ls.AccountGUID, Message: ls.Message}
	if ls.State == store.LinkReady || ls.State == store.LinkExited {
		j.LinkToken = ls.LinkToken
	}
	return j
}

// StartLink asks for a link token: create mode, or update mode for one of the user's connections.
func (h *Handler) StartLink(c echo.Context) error {
	u, _ := CurrentUser(c)
	var in struct {
		Mode        string `json:"mode" form:"mode"`
		AccountGUID string `json:"account_guid" form:"account_guid"`
	}
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The request was not understood.")
	}
	if in.Mode != connections.ModeCreate && in.Mode != connections.ModeUpdate {
		return echo.NewHTTPError(http.StatusBadRequest, "Unknown Link mode.")
	}
	if in.Mode == connections.ModeUpdate && !validGUID(in.AccountGUID) {
		return echo.NewHTTPError(http.StatusNotFound, "That connection was not found.")
	}
	ls, err := h.links.StartLink(c.Request().Context(), u, in.Mode, in.AccountGUID)
	if err != nil {
		return linkRefusal(c, err)
	}
	return c.JSON(http.StatusCreated, sessionJSON(ls))
}

// LinkSession reports a session's state (and its token once ready).
func (h *Handler) LinkSession(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	if !validGUID(id) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	ls, err := h.links.LinkSession(c.Request().Context(), u, id)
	if err != nil {
		return linkRefusal(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, sessionJSON(ls))
}

// linkCallbackJSON is one Link callback as the glue posts it.
type linkCallbackJSON struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Error *struct {
		ErrorType string `json:"error_type"`
		ErrorCode string `json:"error_code"`
	} `json:"error"`
	Metadata struct {
		ViewName      string `json:"view_name"`
		ErrorCode     string `json:"error_code"`
		ErrorType     string `json:"error_type"`
		ExitStatus    string `json:"exit_status"`
		Status        string `json:"status"`
		InstitutionID string `json:"institution_id"`
		LinkSessionID string `json:"link_session_id"`
		RequestID     string `json:"request_id"`
		Institution   *struct {
			InstitutionID string `json:"institution_id"`
		} `json:"institution"`
	} `json:"metadata"`
}

// clip bounds s to n bytes without splitting a UTF-8 sequence, so what is
// stored and logged stays valid text.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decodeCallback validates a callback body; anything malformed is refused whole.
func decodeCallback(body []byte) (connections.LinkCallback, bool) {
	var in linkCallbackJSON
	if err := json.Unmarshal(body, &in); err != nil {
		return connections.LinkCallback{}, false
	}
	switch in.Kind {
	case "event", "exit", "success":
	default:
		return connections.LinkCallback{}, false
	}
	m := in.Metadata
	cb := connections.LinkCallback{Kind: in.Kind, EventName: clip(in.Name, 64), ViewName: clip(m.ViewName, 64), ErrorCode: clip(m.ErrorCode, 64),
		ErrorType: clip(m.ErrorType, 64), ExitStatus: clip(m.ExitStatus, 64), InstitutionID: clip(m.InstitutionID, 64),
		PlaidLinkSessionID: clip(m.LinkSessionID, 128), RequestID: clip(m.RequestID, 128)}
	if in.Kind == "exit" {
		cb.ExitStatus = clip(m.Status, 64)
		if in.Error != nil {
			cb.ErrorCode, cb.ErrorType = clip(in.Error.ErrorCode, 64), clip(in.Error.ErrorType, 64)
		}
	}
	if m.Institution != nil && cb.InstitutionID == "" {
		cb.InstitutionID = clip(m.Institution.InstitutionID, 64)
	}
	return cb, true
}

// LinkCallback stores one Link callback (onEvent, onExit; onSuccess is also
// logged here before the completion is posted). sendBeacon posts it on unload.
func (h *Handler) LinkCallback(c echo.Context) error {
	u, _ := CurrentUser(c)
	id, cb, err := decodeSessionBody(c, decodeCallback, "The Link callback was not understood.")
	if err != nil {
		return err
	}
	ls, err := h.links.RecordCallback(c.Request().Context(), u, id, cb)
	if err != nil {
		return linkRefusal(c, err)
	}
	return c.JSON(http.StatusOK, sessionJSON(ls))
}

type successJSON struct {
	PublicToken string `json:"public_token"`
	Metadata    struct {
		Institution *struct {
			Name          string `json:"name"`
			InstitutionID string `json:"institution_id"`
		} `json:"institution"`
		Accounts []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Mask    string `json:"mask"`
			Type    string `json:"type"`
			Subtype string `json:"subtype"`
		} `json:"accounts"`
	} `json:"metadata"`
}

func decodeSuccess(body []byte) (connections.Success, bool) {
	var in successJSON
	if err := json.Unmarshal(body, &in); err != nil || len(in.Metadata.Accounts) > 100 {
		return connections.Success{}, false
	}
	s := connections.Success{PublicToken: in.PublicToken}
	if inst := in.Metadata.Institution; inst != nil {
		s.InstitutionID, s.InstitutionName = clip(inst.InstitutionID, 64), clip(inst.Name, 128)
	}
	for _, a := range in.Metadata.Accounts {
		s.Accounts = append(s.Accounts, connections.SuccessAccount{ID: a.ID, Name: strings.TrimSpace(a.Name), Mask: a.Mask, Type: a.Type, Subtype: a.Subtype})
	}
	return s, true
}

// CompleteLink records onSuccess durably and finishes it with the platform.
func (h *Handler) CompleteLink(c echo.Context) error {
	u, _ := CurrentUser(c)
	id, in, err := decodeSessionBody(c, decodeSuccess, "The Link result was not understood.")
	if err != nil {
		return err
	}
	res, err := h.links.Complete(c.Request().Context(), u, id, in)
	if err != nil {
		return linkRefusal(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": res.Status, "account_guid": res.AccountGUID, "state": res.State,
		"label": views.StateLabel(res.State), "next": res.Next})
}

// UnselectedReview asks the customer whether to disconnect the connection
// whose account they left unselected when updating it in Link.
func (h *Handler) UnselectedReview(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	if !validGUID(id) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	r, err := h.links.UnselectedReview(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	v := views.UnselectedReviewView{SessionID: r.SessionID, Row: accountRow(r.Account), Disconnected: r.Disconnected}
	return Render(c, http.StatusOK, views.UnselectedReviewPage(h.Layout(c, "Disconnect this account?", "accounts"), v))
}

// DisconnectUnselected disconnects it once the customer confirmed.
func (h *Handler) DisconnectUnselected(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	if !validGUID(id) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err := h.links.DisconnectUnselected(c.Request().Context(), u, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/link/"+id+"/review")
}

// HideConnection takes a disconnected connection off the customer's list.
func (h *Handler) HideConnection(c echo.Context) error {
	u, _ := CurrentUser(c)
	guid := c.Param("guid")
	if !validGUID(guid) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	if err := h.links.HideConnection(c.Request().Context(), u, guid); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/accounts")
}

// sessionBody reads the Link session id of the path and the request's JSON body.
func sessionBody(c echo.Context) (string, []byte, error) {
	id := c.Param("id")
	if !validGUID(id) {
		return "", nil, echo.NewHTTPError(http.StatusNotFound)
	}
	body, err := readBody(c)
	return id, body, err
}

// decodeSessionBody reads the Link session id of the path and decodes the
// request's JSON body; a body decode refuses is a 400 saying notUnderstood.
func decodeSessionBody[T any](c echo.Context, decode func([]byte) (T, bool), notUnderstood string) (string, T, error) {
	var in T
	id, body, err := sessionBody(c)
	if err != nil {
		return "", in, err
	}
	in, ok := decode(body)
	if !ok {
		return "", in, echo.NewHTTPError(http.StatusBadRequest, notUnderstood)
	}
	return id, in, nil
}

// readBody reads a JSON body, already capped by the body-limit middleware.
func readBody(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return nil, he
	}
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "The request could not be read.")
	}
	return b, nil
}

// OAuthReturn is the registered redirect page: the glue resumes Link here
// with the same token and receivedRedirectUri.
func (h *Handler) OAuthReturn(c echo.Context) error {
	return Render(c, http.StatusOK, views.OAuthReturnPage(h.Layout(c, "Connecting to your bank", "")))
}

// msgKept tells the person their bank's answer waits for them.
const msgKept = "This page's sign-in is no longer current, so we could not finish here, but we kept your bank's answer. Choose Continue (and sign in again if asked) to finish it."

// SessionIDKey is the context key under which web's session middleware
// stores the session id its cookie names, live or not.
const SessionIDKey = "portal.sid"

func sessionIDOf(c echo.Context) string {
	id, _ := c.Get(SessionIDKey).(string)
	return id
}

// KeepLinkResult is called when a Link result is refused before its handler
// runs (the session ended, or its CSRF token no longer matches): Link cannot
// give the result again, so it is kept server-side and finished at the next
// sign-in of the session's owner. A body that is not a Link result is refused
// as before and changes nothing.
func (h *Handler) KeepLinkResult(c echo.Context, refusal *echo.HTTPError) error {
	if h.links == nil {
		return refusal
	}
	id, in, err := decodeSessionBody(c, decodeSuccess, "")
	if err != nil {
		return refusal
	}
	kept, err := h.links.KeepResult(c.Request().Context(), sessionIDOf(c), id, in)
	if err != nil {
		return err
	}
	if !kept {
		return refusal
	}
	h.log.Info("link result kept for the next sign-in", "link_session", id, "refused_with", refusal.Code)
	if !WantsJSON(c) {
		return echo.NewHTTPError(refusal.Code, msgKept)
	}
	return c.JSON(refusal.Code, linkErrorJSON{Error: msgKept, Code: "kept"})
}
