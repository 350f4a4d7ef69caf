package simplaid

import (
	"embed"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// maxSessionAge is how long one Link flow may take before the token is refused.
const maxSessionAge = 30 * time.Minute

// frameCSP is the stand-in's own policy for its iframe UI: nothing inline,
// everything from its own origin, embeddable by any page (like Link).
const frameCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *"

// linkSession is one open Link flow (link_session_id) on a link token.
type linkSession struct {
	id      string
	token   *linkToken
	started time.Time
	inst    *institution
	item    *item
	// step is the view the server expects input for next.
	step string
}

func (s *Server) linkRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /link/v2/stable/link-initialize.js", s.serveStatic("static/link-initialize.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /link/frame.js", s.serveStatic("static/frame.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /link/frame.css", s.serveStatic("static/frame.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /link/frame", s.serveStatic("static/frame.html", "text/html; charset=utf-8"))
	mux.HandleFunc("POST /link/api/open", s.linkAPI(s.linkOpen))
	mux.HandleFunc("POST /link/api/institution", s.linkAPI(s.linkInstitution))
	mux.HandleFunc("POST /link/api/credentials", s.linkAPI(s.linkCredentials))
	mux.HandleFunc("POST /link/api/mfa", s.linkAPI(s.linkMFA))
	mux.HandleFunc("POST /link/api/oauth", s.linkAPI(s.linkOAuth))
	mux.HandleFunc("POST /link/api/accounts", s.linkAPI(s.linkAccounts))
}

func (s *Server) serveStatic(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := static.ReadFile(name)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", frameCSP)
		// The SDK script is loaded by other origins' pages.
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		_, _ = w.Write(b)
	}
}

// linkRequest is what the iframe UI sends; each endpoint reads its fields.
type linkRequest struct {
	Token               string   `json:"token"`
	ReceivedRedirectURI string   `json:"received_redirect_uri"`
	LinkSessionID       string   `json:"link_session_id"`
	InstitutionID       string   `json:"institution_id"`
	Username            string   `json:"username"`
	Password            string   `json:"password"`
	Code                string   `json:"code"`
	AccountIDs          []string `json:"account_ids"`
}

// linkError is an error for the iframe UI: Plaid's error object, the session
// it belongs to, and the view a "try again" returns to (none when fatal).
type linkError struct {
	*apiError
	sessionID string
	retryView string
}

func (s *Server) linkAPI(h func(*linkRequest) (map[string]any, *linkError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requestID := newRequestID()
		var req linkRequest
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		var resp map[string]any
		var le *linkError
		if err != nil {
			le = &linkError{apiError: errInvalidRequest("INVALID_BODY", "body could not be parsed")}
		} else {
			s.mu.Lock()
			resp, le = h(&req)
			s.mu.Unlock()
		}
		if le != nil {
			s.log.Info("link simulator error", "path", r.URL.Path, "error_code", le.Code, "request_id", requestID)
			var retry any
			if le.retryView != "" {
				retry = le.retryView
			}
			var display any
			if le.DisplayMessage != "" {
				display = le.DisplayMessage
			}
			sid := le.sessionID
			if sid == "" {
				sid = req.LinkSessionID
			}
			writeJSON(w, le.Status, map[string]any{
				"error": map[string]any{
					"error_type":      le.Type,
					"error_code":      le.Code,
					"error_message":   le.Message,
					"display_message": display,
				},
				"retry_view":      retry,
				"link_session_id": sid,
				"request_id":      requestID,
			})
			return
		}
		resp["request_id"] = requestID
		writeJSON(w, http.StatusOK, resp)
	}
}

func invalidLinkToken(msg string) *linkError {
	e := errInvalidInput("INVALID_LINK_TOKEN", msg)
	e.DisplayMessage = "This session has expired. Please try again."
	return &linkError{apiError: e}
}

// usableToken checks a link token can still drive a flow. Callers hold s.mu.
func (s *Server) usableToken(tok string) (*linkToken, *linkError) {
	lt := s.linkTokens[tok]
	switch {
	case lt == nil:
		return nil, invalidLinkToken("provided link token is in an invalid format or is not valid")
	case lt.invalidated:
		return nil, invalidLinkToken("link token has been invalidated after too many failed login attempts")
	case !s.now().Before(lt.expires):
		return nil, invalidLinkToken("provided link token is expired")
	}
	return lt, nil
}

// session finds an open session and checks it may take input for step.
func (s *Server) session(req *linkRequest, steps ...string) (*linkSession, *linkError) {
	sess := s.sessions[req.LinkSessionID]
	if sess == nil {
		return nil, &linkError{apiError: errInvalidInput("INVALID_LINK_SESSION", "unknown link_session_id")}
	}
	if _, le := s.usableToken(sess.token.token); le != nil {
		le.sessionID = sess.id
		return nil, le
	}
	if s.now().Sub(sess.started) > maxSessionAge {
		le := invalidLinkToken("the Link session lasted longer than 30 minutes")
		le.sessionID = sess.id
		return nil, le
	}
	for _, st := range steps {
		if sess.step == st {
			return sess, nil
		}
	}
	return nil, &linkError{apiError: errInvalidRequest("INVALID_FIELD", "the Link session is not at this step"), sessionID: sess.id}
}

func institutionMeta(inst *institution) any {
	if inst == nil {
		return nil
	}
	return map[string]any{"name": inst.Name, "institution_id": inst.ID}
}

func institutionList(list []*institution) []map[string]any {
	out := []map[string]any{}
	for _, inst := range list {
		out = append(out, map[string]any{"name": inst.Name, "institution_id": inst.ID, "oauth": inst.OAuth})
	}
	return out
}

// view is the answer that moves the UI to the session's current step.
func (sess *linkSession) view(extra map[string]any) map[string]any {
	out := map[string]any{
		"view":              sess.step,
		"link_session_id":   sess.id,
		"is_update_mode":    sess.token.updateMode(),
		"account_selection": sess.token.accountSelection,
		"institution":       institutionMeta(sess.inst),
	}
	switch sess.step {
	case "SELECT_INSTITUTION":
		out["institutions"] = institutionList(searchInstitutions(""))
	case "SELECT_ACCOUNT":
		accounts := []map[string]any{}
		selected := []string{}
		for _, a := range sess.item.accounts {
			accounts = append(accounts, accountMeta(a))
			if sess.token.updateMode() && sess.item.shared[a.ID] {
				selected = append(selected, a.ID)
			}
		}
		out["accounts"] = accounts
		out["selected_account_ids"] = selected
		out["multiple"] = sess.token.updateMode()
	case "MFA":
		out["mfa_type"] = "code"
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func accountMeta(a *account) map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "mask": a.Mask, "type": a.Type, "subtype": a.Subtype, "verification_status": nil}
}

func (s *Server) linkOpen(req *linkRequest) (map[string]any, *linkError) {
	lt, le := s.usableToken(req.Token)
	if le != nil {
		le.sessionID = newUUID()
		return nil, le
	}
	if req.ReceivedRedirectURI != "" {
		return s.resumeOAuth(lt, req.ReceivedRedirectURI)
	}
	sess := &linkSession{id: newUUID(), token: lt, started: s.now(), step: "SELECT_INSTITUTION"}
	if lt.updateMode() {
		it := s.items[lt.updateItemID]
		if it == nil || it.removed {
			return nil, &linkError{apiError: errInvalidInput("INVALID_ACCESS_TOKEN", "the Item of this link token was removed"), sessionID: sess.id}
		}
		sess.item, sess.inst = it, it.inst
		sess.step = "CREDENTIAL"
		if it.inst.OAuth {
			sess.step = "OAUTH"
		}
	}
	s.sessions[sess.id] = sess
	return sess.view(nil), nil
}

// resumeOAuth continues the session whose OAuth redirect came back to the
// page: same token required, state used once.
func (s *Server) resumeOAuth(lt *linkToken, received string) (map[string]any, *linkError) {
	fail := func(e *apiError) (map[string]any, *linkError) {
		return nil, &linkError{apiError: e, sessionID: newUUID()}
	}
	if lt.redirectURI == "" {
		return fail(errInvalidRequest("INVALID_FIELD", "receivedRedirectUri is set but the link token has no redirect_uri: set it only when re-initializing Link after an OAuth redirect"))
	}
	u, err := url.Parse(received)
	if err != nil || !strings.HasPrefix(received, lt.redirectURI) {
		return fail(errInvalidRequest("INVALID_FIELD", "receivedRedirectUri does not match the link token's redirect_uri"))
	}
	state := u.Query().Get("oauth_state_id")
	if state == "" {
		return fail(errInvalidRequest("INVALID_FIELD", "receivedRedirectUri has no oauth_state_id: set it only when re-initializing Link after an OAuth redirect"))
	}
	sess := s.oauthStates[state]
	switch {
	case sess == nil:
		return fail(errInvalidInput("OAUTH_STATE_ID_NOT_FOUND", "the oauth_state_id does not name an OAuth flow"))
	case sess.token != lt:
		return fail(errInvalidInput("INCORRECT_LINK_TOKEN", "Link was re-initialized with a different link token than the one that started the OAuth flow"))
	case sess.step != "OAUTH_PENDING":
		return fail(errInvalidInput("OAUTH_STATE_ID_ALREADY_PROCESSED", "the OAuth flow of this oauth_state_id has already been processed"))
	}
	if s.now().Sub(sess.started) > maxSessionAge {
		le := invalidLinkToken("the Link session lasted longer than 30 minutes")
		le.sessionID = sess.id
		return nil, le
	}
	s.authenticated(sess)
	return sess.view(map[string]any{"resumed": true}), nil
}

func (s *Server) linkInstitution(req *linkRequest) (map[string]any, *linkError) {
	sess, le := s.session(req, "SELECT_INSTITUTION")
	if le != nil {
		return nil, le
	}
	inst := institutionByID(req.InstitutionID)
	if inst == nil {
		return nil, &linkError{apiError: errInvalidInput("INVALID_INSTITUTION", "invalid institution_id provided"), sessionID: sess.id}
	}
	sess.inst = inst
	sess.step = "CREDENTIAL"
	if inst.OAuth {
		sess.step = "OAUTH"
	}
	return sess.view(nil), nil
}

// loginErrorTypes gives the error_type of the codes a password error_<CODE>
// can ask for; other codes are ITEM_ERROR.
var loginErrorTypes = map[string]string{
	"INSTITUTION_DOWN":                "INSTITUTION_ERROR",
	"INSTITUTION_NOT_RESPONDING":      "INSTITUTION_ERROR",
	"INSTITUTION_NOT_AVAILABLE":       "INSTITUTION_ERROR",
	"INSTITUTION_NO_LONGER_SUPPORTED": "INSTITUTION_ERROR",
	"INTERNAL_SERVER_ERROR":           "API_ERROR",
	"PLANNED_MAINTENANCE":             "API_ERROR",
	"INVALID_LINK_TOKEN":              "INVALID_INPUT",
}

var loginErrorDisplay = map[string]string{
	"INVALID_CREDENTIALS":        "The credentials you provided were incorrect. Check that your credentials are the same that you use for this institution.",
	"INVALID_MFA":                "The provided MFA responses were not correct. Please try again.",
	"ITEM_LOCKED":                "Your account is locked. Please reset your password with your bank and try again.",
	"INVALID_UPDATED_USERNAME":   "The username you provided does not match the one on file. Please try again.",
	"USER_SETUP_REQUIRED":        "You must log in to your bank's website to finish setting up your account.",
	"MFA_NOT_SUPPORTED":          "This type of multi-factor authentication is not supported.",
	"NO_ACCOUNTS":                "No compatible accounts could be found at this institution.",
	"INSTITUTION_DOWN":           "This institution is not currently responding. Please try again later.",
	"INSTITUTION_NOT_RESPONDING": "This institution is not currently responding. Please try again later.",
	"INSTITUTION_NOT_AVAILABLE":  "This institution is not available. Please try again later.",
	"INTERNAL_SERVER_ERROR":      "Something went wrong. Please try again later.",
}

func loginError(code string) *apiError {
	typ := loginErrorTypes[code]
	if typ == "" {
		typ = "ITEM_ERROR"
	}
	status := http.StatusBadRequest
	if typ == "API_ERROR" {
		status = http.StatusInternalServerError
	}
	return &apiError{Status: status, Type: typ, Code: code, Message: "the sandbox login failed with " + code, DisplayMessage: loginErrorDisplay[code]}
}

// failLogin counts a failed login on the token; the third one invalidates it.
func (s *Server) failLogin(sess *linkSession, e *apiError, retryView string) *linkError {
	sess.token.loginFailures++
	if sess.token.loginFailures >= maxLoginFailures {
		sess.token.invalidated = true
		le := invalidLinkToken("link token has been invalidated after too many failed login attempts")
		le.DisplayMessage = "Too many failed attempts. Please start again."
		le.sessionID = sess.id
		return le
	}
	return &linkError{apiError: e, sessionID: sess.id, retryView: retryView}
}

func (s *Server) linkCredentials(req *linkRequest) (map[string]any, *linkError) {
	sess, le := s.session(req, "CREDENTIAL")
	if le != nil {
		return nil, le
	}
	switch {
	case req.Username != "user_good":
		return nil, s.failLogin(sess, loginError("INVALID_CREDENTIALS"), "CREDENTIAL")
	case strings.HasPrefix(req.Password, "error_") && len(req.Password) > len("error_"):
		return nil, s.failLogin(sess, loginError(strings.TrimPrefix(req.Password, "error_")), "CREDENTIAL")
	case req.Password == "mfa_device" || (req.Password == "pass_good" && sess.inst.AlwaysMFA):
		sess.step = "MFA"
		return sess.view(nil), nil
	case req.Password == "pass_good":
		s.authenticated(sess)
		return sess.view(nil), nil
	default:
		return nil, s.failLogin(sess, loginError("INVALID_CREDENTIALS"), "CREDENTIAL")
	}
}

func (s *Server) linkMFA(req *linkRequest) (map[string]any, *linkError) {
	sess, le := s.session(req, "MFA")
	if le != nil {
		return nil, le
	}
	if req.Code != "1234" {
		return nil, s.failLogin(sess, loginError("INVALID_MFA"), "MFA")
	}
	s.authenticated(sess)
	return sess.view(nil), nil
}

func (s *Server) linkOAuth(req *linkRequest) (map[string]any, *linkError) {
	sess, le := s.session(req, "OAUTH")
	if le != nil {
		return nil, le
	}
	if sess.token.redirectURI == "" {
		// Without a redirect_uri real Link uses a pop-up; the stand-in's bank
		// approves at once.
		s.authenticated(sess)
		return sess.view(nil), nil
	}
	state := newUUID()
	s.oauthStates[state] = sess
	sess.step = "OAUTH_PENDING"
	return sess.view(map[string]any{"redirect_url": sess.token.redirectURI + "?oauth_state_id=" + url.QueryEscape(state)}), nil
}

// authenticated moves a session past the login. In update mode the Item's
// login is repaired here: the bank has accepted the user again.
func (s *Server) authenticated(sess *linkSession) {
	if sess.token.updateMode() {
		sess.item.repairLogin()
		sess.item.consentExpires = time.Time{} // the user consented again
		sess.step = "CONNECTED"
		if sess.token.accountSelection {
			sess.step = "SELECT_ACCOUNT"
		}
		return
	}
	if sess.item == nil {
		sess.item = s.newItem(sess.inst, sess.token.webhook, sess.token.products)
	}
	sess.step = "SELECT_ACCOUNT"
}

func (s *Server) linkAccounts(req *linkRequest) (map[string]any, *linkError) {
	sess, le := s.session(req, "SELECT_ACCOUNT", "CONNECTED")
	if le != nil {
		return nil, le
	}
	bad := func(msg string) (map[string]any, *linkError) {
		return nil, &linkError{apiError: errInvalidRequest("INVALID_FIELD", msg), sessionID: sess.id}
	}
	it := sess.item
	if sess.step == "SELECT_ACCOUNT" {
		known := map[string]bool{}
		for _, a := range it.accounts {
			known[a.ID] = true
		}
		chosen := map[string]bool{}
		for _, id := range req.AccountIDs {
			if !known[id] {
				return bad("unknown account id")
			}
			chosen[id] = true
		}
		switch {
		case len(chosen) == 0:
			return bad("choose at least one account")
		case !sess.token.updateMode() && len(chosen) != 1:
			return bad("choose one account")
		}
		it.shared = chosen
	}
	sess.step = "DONE"
	accounts := []map[string]any{}
	for _, a := range it.sharedAccounts() {
		accounts = append(accounts, accountMeta(a))
	}
	return map[string]any{
		"public_token": s.newPublicToken(it),
		"metadata": map[string]any{
			"institution":     institutionMeta(it.inst),
			"accounts":        accounts,
			"link_session_id": sess.id,
		},
	}, nil
}
