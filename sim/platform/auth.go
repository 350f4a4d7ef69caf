package simplatform

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Scopes.
const (
	scopeAccountsRead     = "external_bank_accounts:read"
	scopeAccountsWrite    = "external_bank_accounts:write"
	scopeAccountsExecute  = "external_bank_accounts:execute"
	scopeWorkflowsRead    = "workflows:read"
	scopeWorkflowsExecute = "workflows:execute"
	scopeCustomersRead    = "customers:read"
	scopeCustomersWrite   = "customers:write"
	scopeCustomersExecute = "customers:execute"
)

// AllScopes lists every scope of the platform's API, the default of an API
// key's scopes (Config.KeyScopes).
func AllScopes() []string { return slices.Clone(allScopes) }

var allScopes = []string{
	scopeAccountsRead, scopeAccountsWrite, scopeAccountsExecute,
	scopeWorkflowsRead, scopeWorkflowsExecute,
	scopeCustomersRead, scopeCustomersWrite, scopeCustomersExecute,
	"quotes:read", "quotes:execute", "transfers:read", "transfers:execute",
}

const (
	subjectBank     = "bank"
	subjectCustomer = "customer"
)

// claims of the simulator's access tokens.
type claims struct {
	jwt.RegisteredClaims
	SubType  string `json:"sub_type"`
	BankGUID string `json:"bank_guid"`
	Scope    string `json:"scope"`
}

// subject is who a request acts for: the bank, or one customer of it.
type subject struct {
	BankGUID     string
	CustomerGUID string // empty for a bank token
	Scopes       []string
}

func (sub subject) isCustomer() bool { return sub.CustomerGUID != "" }

// visible loads the object whose guid is guid with query (which takes the
// guid and sub's bank) for sub: a malformed guid, another bank's object and,
// for a customer, another customer's (owner tells whose it is, "" for the
// bank's own) all answer the same 404 "<what> not found".
func visible[T any](ctx context.Context, s *Server, sub subject, guid, what, query string,
	scan func(interface{ Scan(...any) error }) (T, error), owner func(T) string) (T, error) {
	var none T
	notFound := errorf(http.StatusNotFound, codeNotFound, "%s not found", what)
	if !validGUID(guid) {
		return none, notFound
	}
	v, err := scan(s.db.QueryRowContext(ctx, query, guid, sub.BankGUID))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sub.isCustomer() && owner(v) != sub.CustomerGUID) {
		return none, notFound
	}
	return v, err
}

// ownerOf reads an owner that may be absent (a bank-level object).
func ownerOf(customerGUID *string) string {
	if customerGUID == nil {
		return ""
	}
	return *customerGUID
}

func (s *Server) issueToken(subType, sub string, scopes []string) (string, time.Time, error) {
	now := time.Now()
	exp := now.Add(s.cfg.TokenLifetime)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "platformsim",
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        newGUID(),
		},
		SubType:  subType,
		BankGUID: s.bankGUID,
		Scope:    strings.Join(scopes, " "),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.signKey)
	return tok, exp, err
}

// tokenRequest is the client-credentials body, sent as JSON (the contract)
// or form-encoded (golang.org/x/oauth2).
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Scope        string `json:"scope"`
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, codeInvalidValue, "Malformed JSON body")
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, codeInvalidValue, "Malformed form body")
			return
		}
		req = tokenRequest{
			GrantType: r.PostForm.Get("grant_type"), ClientID: r.PostForm.Get("client_id"),
			ClientSecret: r.PostForm.Get("client_secret"), Scope: r.PostForm.Get("scope"),
		}
		if id, secret, ok := r.BasicAuth(); ok && req.ClientID == "" {
			req.ClientID, req.ClientSecret = id, secret
		}
	}
	switch {
	case req.GrantType == "":
		writeError(w, http.StatusBadRequest, codeMissingParameter, "grant_type is required")
		return
	case req.GrantType != "client_credentials":
		writeError(w, http.StatusBadRequest, codeInvalidValue, "Unsupported grant_type")
		return
	case req.ClientID == "" || req.ClientSecret == "":
		writeError(w, http.StatusBadRequest, codeMissingParameter, "client_id and client_secret are required")
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.ClientID), []byte(s.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(req.ClientSecret), []byte(s.secret)) != 1 {
		writeError(w, http.StatusUnauthorized, codeAuthenticationFailed, "Invalid client credentials")
		return
	}
	scopes := strings.Fields(req.Scope)
	if len(scopes) == 0 {
		scopes = s.keyScopes
	}
	for _, sc := range scopes {
		if !slices.Contains(allScopes, sc) {
			writeError(w, http.StatusBadRequest, codeInvalidScopes, "Unknown scope: "+sc)
			return
		}
		// The platform grants an API key only the scopes it was created with.
		if !slices.Contains(s.keyScopes, sc) {
			writeError(w, http.StatusForbidden, codeInvalidScopes, "The API key does not have the scope "+sc)
			return
		}
	}
	tok, _, err := s.issueToken(subjectBank, s.bankGUID, scopes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(s.cfg.TokenLifetime / time.Second),
		"scope":        strings.Join(scopes, " "),
		"created_at":   time.Now().Unix(),
	})
}

// authed checks the bearer token and its scope, then calls h with the subject.
func (s *Server) authed(scope string, h func(http.ResponseWriter, *http.Request, subject)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := s.authenticate(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !slices.Contains(sub.Scopes, scope) {
			writeError(w, http.StatusForbidden, codeInvalidScopes, "Token is missing the scope "+scope)
			return
		}
		h(w, r, sub)
	}
}

func (s *Server) authenticate(r *http.Request) (subject, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationFailed, "Authentication required")
	}
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || strings.Count(raw, ".") != 2 {
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationMalformed, "Malformed bearer token")
	}
	var c claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.signKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationMalformed, "Malformed bearer token")
	case errors.Is(err, jwt.ErrTokenExpired):
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationFailed, "Token expired")
	case err != nil:
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationFailed, "Invalid token")
	}
	if c.BankGUID != s.bankGUID {
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationFailed, "Invalid token")
	}
	sub := subject{BankGUID: c.BankGUID, Scopes: strings.Fields(c.Scope)}
	switch c.SubType {
	case subjectBank:
	case subjectCustomer:
		sub.CustomerGUID = c.Subject
	default:
		return subject{}, errorf(http.StatusUnauthorized, codeAuthenticationFailed, "Invalid token subject")
	}
	return sub, nil
}

// handleCreateCustomerToken mints a token that sees one customer only.
func (s *Server) handleCreateCustomerToken(w http.ResponseWriter, r *http.Request, sub subject) {
	if sub.isCustomer() {
		writeError(w, http.StatusForbidden, codeInvalidSubject, "Customer tokens need a bank token")
		return
	}
	if !slices.Contains(sub.Scopes, scopeCustomersRead) {
		writeError(w, http.StatusForbidden, codeInvalidScopes, "Token is missing the scope "+scopeCustomersRead)
		return
	}
	var req struct {
		CustomerGUID string   `json:"customer_guid"`
		Scopes       []string `json:"scopes"`
	}
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case req.CustomerGUID == "":
		writeError(w, http.StatusBadRequest, codeMissingParameter, "customer_guid is required")
		return
	case !validGUID(req.CustomerGUID):
		writeError(w, http.StatusBadRequest, codeInvalidValue, "customer_guid is not a guid")
		return
	case len(req.Scopes) == 0:
		writeError(w, http.StatusBadRequest, codeMissingParameter, "scopes is required")
		return
	}
	for _, sc := range req.Scopes {
		if !slices.Contains(allScopes, sc) {
			writeError(w, http.StatusBadRequest, codeInvalidScopes, "Unknown scope: "+sc)
			return
		}
		// A customer token never gets more than the bank token minting it.
		if !slices.Contains(sub.Scopes, sc) {
			writeError(w, http.StatusForbidden, codeInvalidScopes, "The bank token does not have the scope "+sc)
			return
		}
	}
	if _, err := s.customer(r.Context(), sub, req.CustomerGUID); err != nil {
		s.fail(w, r, noCustomer(err))
		return
	}
	tok, _, err := s.issueToken(subjectCustomer, req.CustomerGUID, req.Scopes)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"access_token": tok})
}

// loopbackOnly guards the sandbox controls.
func (s *Server) loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeError(w, http.StatusForbidden, codeInvalidSubject, "Sandbox controls answer loopback callers only")
			return
		}
		h(w, r)
	}
}
