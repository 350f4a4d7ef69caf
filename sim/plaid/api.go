package simplaid

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	createTokenTTL = 4 * time.Hour
	updateTokenTTL = 30 * time.Minute
	publicTokenTTL = 30 * time.Minute
	// maxLoginFailures invalidates a link token after that many failed logins.
	maxLoginFailures = 3
)

type linkToken struct {
	token            string
	created          time.Time
	expires          time.Time
	clientName       string
	language         string
	products         []string
	webhook          string
	redirectURI      string
	updateItemID     string // set in update mode
	accountSelection bool
	loginFailures    int
	invalidated      bool
}

func (t *linkToken) updateMode() bool { return t.updateItemID != "" }

type publicToken struct {
	itemID  string
	expires time.Time
	used    bool
}

type item struct {
	id            string
	accessToken   string
	inst          *institution
	accounts      []*account // every account the login can see
	shared        map[string]bool
	webhook       string
	products      []string
	loginRequired bool
	// errorRequestID is the request_id of the call that found the login
	// broken: the Item's error carries it, as Plaid's does.
	errorRequestID string
	// consentExpires is when the user's consent ends, once a
	// PENDING_EXPIRATION warning has announced it; zero otherwise.
	consentExpires time.Time
	removed        bool
}

// breakLogin puts the Item into ITEM_LOGIN_REQUIRED, found by the request
// with that id.
func (it *item) breakLogin(requestID string) {
	if !it.loginRequired || it.errorRequestID == "" {
		it.errorRequestID = requestID
	}
	it.loginRequired = true
}

// repairLogin takes the Item out of its error.
func (it *item) repairLogin() {
	it.loginRequired, it.errorRequestID = false, ""
}

type account struct {
	accountTemplate
	ID string
}

func (it *item) sharedAccounts() []*account {
	var out []*account
	for _, a := range it.accounts {
		if it.shared[a.ID] {
			out = append(out, a)
		}
	}
	return out
}

// newItem creates an Item at inst with fresh account ids; the caller picks
// which accounts are shared. Callers hold s.mu.
func (s *Server) newItem(inst *institution, webhook string, products []string) *item {
	it := &item{
		id:          newID(),
		accessToken: "access-sandbox-" + newUUID(),
		inst:        inst,
		shared:      map[string]bool{},
		webhook:     webhook,
		products:    products,
	}
	for _, t := range inst.Accounts {
		it.accounts = append(it.accounts, &account{accountTemplate: t, ID: newID()})
	}
	s.items[it.id] = it
	s.accessTokens[it.accessToken] = it.id
	return it
}

// newPublicToken issues a 30-minute single-use public token for the Item.
// Callers hold s.mu.
func (s *Server) newPublicToken(it *item) string {
	tok := "public-sandbox-" + newUUID()
	s.publicTokens[tok] = &publicToken{itemID: it.id, expires: s.now().Add(publicTokenTTL)}
	return tok
}

// itemByAccessToken resolves an access token. Callers hold s.mu.
func (s *Server) itemByAccessToken(tok string) (*item, *apiError) {
	if tok == "" {
		return nil, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: access_token")
	}
	id, ok := s.accessTokens[tok]
	if !ok || s.items[id] == nil || s.items[id].removed {
		return nil, errInvalidInput("INVALID_ACCESS_TOKEN", "provided access token is in an invalid format or is not valid")
	}
	return s.items[id], nil
}

func errLoginRequired() *apiError {
	return errItem("ITEM_LOGIN_REQUIRED",
		"the login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information. use Link's update mode to restore the item to a good state",
		"The login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information.")
}

type linkTokenCreateRequest struct {
	ClientName   string   `json:"client_name"`
	Language     string   `json:"language"`
	CountryCodes []string `json:"country_codes"`
	User         *struct {
		ClientUserID string `json:"client_user_id"`
	} `json:"user"`
	Products    []string `json:"products"`
	Webhook     string   `json:"webhook"`
	AccessToken *string  `json:"access_token"`
	RedirectURI string   `json:"redirect_uri"`
	Update      *struct {
		AccountSelectionEnabled bool `json:"account_selection_enabled"`
	} `json:"update"`
}

func (s *Server) linkTokenCreate(r *http.Request, body []byte) (any, *apiError) {
	var req linkTokenCreateRequest
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	var missing []string
	if req.ClientName == "" {
		missing = append(missing, "client_name")
	}
	if req.Language == "" {
		missing = append(missing, "language")
	}
	if len(req.CountryCodes) == 0 {
		missing = append(missing, "country_codes")
	}
	if req.User == nil || req.User.ClientUserID == "" {
		missing = append(missing, "user.client_user_id")
	}
	if len(missing) > 0 {
		return nil, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: "+strings.Join(missing, ", "))
	}
	switch req.Language {
	case "en", "fr", "es", "nl", "de":
	default:
		return nil, errInvalidRequest("INVALID_FIELD", "language must be one of en, fr, es, nl, de")
	}
	if req.RedirectURI != "" {
		u, err := url.Parse(req.RedirectURI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, errInvalidRequest("INVALID_FIELD", "redirect_uri must be an absolute http(s) URL without query or fragment")
		}
	}
	updateMode := req.AccessToken != nil && *req.AccessToken != ""
	if req.Update != nil && req.Update.AccountSelectionEnabled && !updateMode {
		return nil, errInvalidRequest("INVALID_FIELD", "update.account_selection_enabled requires access_token")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	lt := &linkToken{
		token:       "link-sandbox-" + newUUID(),
		created:     now,
		clientName:  req.ClientName,
		language:    req.Language,
		products:    req.Products,
		webhook:     req.Webhook,
		redirectURI: req.RedirectURI,
	}
	if updateMode {
		if len(req.Products) > 0 {
			return nil, errInvalidRequest("INVALID_FIELD", "products must be empty in update mode (when access_token is set)")
		}
		it, e := s.itemByAccessToken(*req.AccessToken)
		if e != nil {
			return nil, e
		}
		lt.updateItemID = it.id
		lt.accountSelection = req.Update != nil && req.Update.AccountSelectionEnabled
		lt.expires = now.Add(updateTokenTTL)
		if req.Webhook != "" {
			it.webhook = req.Webhook
		}
	} else {
		if len(req.Products) == 0 {
			return nil, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: products")
		}
		lt.expires = now.Add(createTokenTTL)
	}
	s.linkTokens[lt.token] = lt
	return map[string]any{"link_token": lt.token, "expiration": lt.expires.UTC().Format(time.RFC3339)}, nil
}

func (s *Server) publicTokenExchange(r *http.Request, body []byte) (any, *apiError) {
	var req struct {
		PublicToken string `json:"public_token"`
	}
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pt, ok := s.publicTokens[req.PublicToken]
	switch {
	case req.PublicToken == "":
		return nil, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: public_token")
	case !ok:
		return nil, errInvalidInput("INVALID_PUBLIC_TOKEN", "provided public token is in an invalid format. expected format: public-<environment>-<identifier>")
	case pt.used:
		return nil, errInvalidInput("INVALID_PUBLIC_TOKEN", "provided public token has already been exchanged")
	case !s.now().Before(pt.expires):
		return nil, errInvalidInput("INVALID_PUBLIC_TOKEN", "provided public token is expired. Public tokens expire 30 minutes after creation at which point they can no longer be exchanged")
	}
	it := s.items[pt.itemID]
	if it == nil || it.removed {
		return nil, errInvalidInput("INVALID_PUBLIC_TOKEN", "the Item of this public token was removed")
	}
	pt.used = true
	return map[string]any{"access_token": it.accessToken, "item_id": it.id}, nil
}

type accessTokenRequest struct {
	AccessToken string `json:"access_token"`
}

func (s *Server) withItem(body []byte, fn func(it *item) (any, *apiError)) (any, *apiError) {
	var req accessTokenRequest
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.itemByAccessToken(req.AccessToken)
	if e != nil {
		return nil, e
	}
	return fn(it)
}

// itemJSON is the Item object; a login that needs repair shows as its error.
func (it *item) itemJSON() map[string]any {
	var itemErr any
	if it.loginRequired {
		itemErr = errLoginRequired().body(it.errorRequestID)
	}
	products := it.products
	if products == nil {
		products = []string{}
	}
	var webhook, consentExpires any
	if it.webhook != "" {
		webhook = it.webhook
	}
	if !it.consentExpires.IsZero() {
		consentExpires = it.consentExpires.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"item_id":                 it.id,
		"institution_id":          it.inst.ID,
		"webhook":                 webhook,
		"error":                   itemErr,
		"available_products":      []string{"balance"},
		"billed_products":         products,
		"products":                products,
		"consent_expiration_time": consentExpires,
		"update_type":             "background",
	}
}

func (a *account) accountJSON() map[string]any {
	var available, limit any
	if a.Available != nil {
		available = *a.Available
	}
	if a.Limit != nil {
		limit = *a.Limit
	}
	return map[string]any{
		"account_id": a.ID,
		"balances": map[string]any{
			"available":                available,
			"current":                  a.Current,
			"limit":                    limit,
			"iso_currency_code":        "USD",
			"unofficial_currency_code": nil,
		},
		"mask":          a.Mask,
		"name":          a.Name,
		"official_name": a.Name,
		"type":          a.Type,
		"subtype":       a.Subtype,
	}
}

func (it *item) accountsJSON() []map[string]any {
	out := []map[string]any{}
	for _, a := range it.sharedAccounts() {
		out = append(out, a.accountJSON())
	}
	return out
}

func (s *Server) itemGet(r *http.Request, body []byte) (any, *apiError) {
	return s.withItem(body, func(it *item) (any, *apiError) {
		return map[string]any{"item": it.itemJSON()}, nil
	})
}

// accountsGet answers from cached data, so it works even when the login
// needs repair (the Item then carries the error).
func (s *Server) accountsGet(r *http.Request, body []byte) (any, *apiError) {
	return s.withItem(body, func(it *item) (any, *apiError) {
		return map[string]any{"accounts": it.accountsJSON(), "item": it.itemJSON()}, nil
	})
}

// accountsBalanceGet reaches the bank in real time, so an expired login fails.
func (s *Server) accountsBalanceGet(r *http.Request, body []byte) (any, *apiError) {
	return s.withItem(body, func(it *item) (any, *apiError) {
		if it.loginRequired {
			return nil, errLoginRequired()
		}
		return map[string]any{"accounts": it.accountsJSON(), "item": it.itemJSON()}, nil
	})
}

func (s *Server) itemRemove(r *http.Request, body []byte) (any, *apiError) {
	return s.withItem(body, func(it *item) (any, *apiError) {
		it.removed = true
		delete(s.accessTokens, it.accessToken)
		return map[string]any{}, nil
	})
}

func (s *Server) transactionsRefresh(r *http.Request, body []byte) (any, *apiError) {
	var req accessTokenRequest
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	it, e := s.itemByAccessToken(req.AccessToken)
	if e == nil && it.loginRequired {
		e = errLoginRequired()
	}
	if e == nil && it.inst.ID == "ins_128026" && it.onlyNonDepository() {
		e = errItem("PRODUCTS_NOT_SUPPORTED", "the requested product is not supported for this Item: /transactions/refresh is not supported for Capital One non-depository accounts", "")
	}
	var itemID string
	if it != nil {
		itemID = it.id
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if s.refreshDelay > 0 {
		t := time.NewTimer(s.refreshDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return nil, &apiError{Status: 499, Type: "API_ERROR", Code: "INTERNAL_SERVER_ERROR", Message: "request canceled"}
		}
	}
	s.fireWebhook(itemID, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE", nil)
	return map[string]any{}, nil
}

func (s *Server) institutionsGetByID(r *http.Request, body []byte) (any, *apiError) {
	var req struct {
		InstitutionID string `json:"institution_id"`
	}
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	inst := institutionByID(req.InstitutionID)
	if inst == nil {
		return nil, errInvalidInput("INVALID_INSTITUTION", "invalid institution_id provided")
	}
	return map[string]any{"institution": inst.institutionJSON()}, nil
}

func (inst *institution) institutionJSON() map[string]any {
	return map[string]any{
		"institution_id":  inst.ID,
		"name":            inst.Name,
		"products":        []string{"balance", "transactions"},
		"country_codes":   []string{"US"},
		"routing_numbers": []string{},
		"oauth":           inst.OAuth,
	}
}

func (s *Server) sandboxResetLogin(r *http.Request, body []byte) (any, *apiError) {
	return s.withItem(body, func(it *item) (any, *apiError) {
		it.breakLogin(requestIDOf(r))
		s.fireWebhookLocked(it, "ITEM", "ERROR", errLoginRequired())
		return map[string]any{"reset_login": true}, nil
	})
}

// webhookTypes maps the codes /sandbox/item/fire_webhook accepts to their type.
var webhookTypes = map[string]string{
	"ERROR":                       "ITEM",
	"PENDING_EXPIRATION":          "ITEM",
	"PENDING_DISCONNECT":          "ITEM",
	"NEW_ACCOUNTS_AVAILABLE":      "ITEM",
	"LOGIN_REPAIRED":              "ITEM",
	"USER_PERMISSION_REVOKED":     "ITEM",
	"WEBHOOK_UPDATE_ACKNOWLEDGED": "ITEM",
	"SYNC_UPDATES_AVAILABLE":      "TRANSACTIONS",
	"DEFAULT_UPDATE":              "TRANSACTIONS",
	"INITIAL_UPDATE":              "TRANSACTIONS",
	"HISTORICAL_UPDATE":           "TRANSACTIONS",
	"TRANSACTIONS_REMOVED":        "TRANSACTIONS",
}

func (s *Server) sandboxFireWebhook(r *http.Request, body []byte) (any, *apiError) {
	var req struct {
		AccessToken string `json:"access_token"`
		WebhookType string `json:"webhook_type"`
		WebhookCode string `json:"webhook_code"`
	}
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	typ, ok := webhookTypes[req.WebhookCode]
	if !ok {
		return nil, errInvalidRequest("INVALID_FIELD", "webhook_code is not supported by the stand-in: "+req.WebhookCode)
	}
	if req.WebhookType != "" && req.WebhookType != typ {
		return nil, errInvalidRequest("INVALID_FIELD", "webhook_type "+req.WebhookType+" does not match webhook_code "+req.WebhookCode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.itemByAccessToken(req.AccessToken)
	if e != nil {
		return nil, e
	}
	if it.webhook == "" {
		return nil, errInvalidRequest("INVALID_FIELD", "the Item has no webhook URL")
	}
	var whErr *apiError
	switch req.WebhookCode {
	case "ERROR":
		// Keep the Item consistent with what the webhook says.
		it.breakLogin(requestIDOf(r))
		whErr = errLoginRequired()
	case "LOGIN_REPAIRED":
		it.repairLogin()
	}
	s.fireWebhookLocked(it, typ, req.WebhookCode, whErr)
	return map[string]any{"webhook_fired": true}, nil
}

func (s *Server) sandboxPublicTokenCreate(r *http.Request, body []byte) (any, *apiError) {
	var req struct {
		InstitutionID   string   `json:"institution_id"`
		InitialProducts []string `json:"initial_products"`
		Options         *struct {
			Webhook          string `json:"webhook"`
			OverrideUsername string `json:"override_username"`
		} `json:"options"`
	}
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	if len(req.InitialProducts) == 0 {
		return nil, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: initial_products")
	}
	inst := institutionByID(req.InstitutionID)
	if inst == nil {
		return nil, errInvalidInput("INVALID_INSTITUTION", "invalid institution_id provided")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var webhook, username string
	if req.Options != nil {
		webhook, username = req.Options.Webhook, req.Options.OverrideUsername
	}
	it := s.newItem(inst, webhook, req.InitialProducts)
	// One account per public token is the platform's rule, so share only the
	// first account unless the sandbox user asks for all of them.
	for i, a := range it.accounts {
		if i == 0 || username == "user_all_accounts" {
			it.shared[a.ID] = true
		}
	}
	return map[string]any{"public_token": s.newPublicToken(it)}, nil
}
