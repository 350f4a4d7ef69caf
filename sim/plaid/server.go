// Package simplaid is an offline stand-in for Plaid: the subset of the Plaid
// API the platform simulator calls through plaid-go, signed webhooks, and a
// Link simulator (script + iframe UI) with the real web SDK's interface.
// State lives in memory; with Config.StatePath the Items also persist across restarts.
package simplaid

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures the stand-in.
type Config struct {
	Logger *slog.Logger
	// Now is the clock (token expiry, webhook iat); time.Now when nil.
	Now func() time.Time
	// RefreshDelay is how long /transactions/refresh takes; 1s when zero,
	// none when negative.
	RefreshDelay time.Duration
	// HTTPClient delivers webhooks; a client with a 10 s timeout when nil.
	HTTPClient *http.Client
	// StatePath, when set, keeps the Items in this JSON file across restarts.
	StatePath string
}

// Server is the stand-in. All its state is guarded by mu.
type Server struct {
	log          *slog.Logger
	now          func() time.Time
	refreshDelay time.Duration
	client       *http.Client
	clientID     string
	secret       string

	signingKey *ecdsa.PrivateKey
	keyID      string
	keyCreated time.Time

	mu           sync.Mutex
	linkTokens   map[string]*linkToken
	publicTokens map[string]*publicToken
	items        map[string]*item  // by item id
	accessTokens map[string]string // access token -> item id
	sessions     map[string]*linkSession
	oauthStates  map[string]*linkSession

	// deliveries tracks webhook goroutines so Close can wait for them.
	deliveries sync.WaitGroup
	closeCtx   context.Context
	closeFn    context.CancelFunc

	statePath   string
	saved       string        // the last snapshot written
	persistDone chan struct{} // closed when the persist loop has saved for the last time
}

// New builds a stand-in with fresh API keys and a fresh webhook signing key.
func New(cfg Config) (*Server, error) {
	s := &Server{
		log:          cfg.Logger,
		now:          cfg.Now,
		refreshDelay: cfg.RefreshDelay,
		client:       cfg.HTTPClient,
		linkTokens:   map[string]*linkToken{},
		publicTokens: map[string]*publicToken{},
		items:        map[string]*item{},
		accessTokens: map[string]string{},
		sessions:     map[string]*linkSession{},
		oauthStates:  map[string]*linkSession{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.refreshDelay == 0 {
		s.refreshDelay = time.Second
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	s.clientID = randomHex(12)
	s.secret = randomHex(15)
	if err := s.newSigningKey(); err != nil {
		return nil, fmt.Errorf("simplaid: signing key: %w", err)
	}
	s.closeCtx, s.closeFn = context.WithCancel(context.Background())
	if cfg.StatePath != "" {
		s.statePath, s.persistDone = cfg.StatePath, make(chan struct{})
		if err := s.load(cfg.StatePath); err != nil {
			return nil, fmt.Errorf("simplaid: load state: %w", err)
		}
		go s.persistLoop()
	}
	return s, nil
}

// ClientID is the client id plaid-go must send.
func (s *Server) ClientID() string { return s.clientID }

// Secret is the secret plaid-go must send.
func (s *Server) Secret() string { return s.secret }

// Close cancels pending webhook deliveries and waits for them.
func (s *Server) Close() {
	s.closeFn()
	s.deliveries.Wait()
	if s.persistDone != nil {
		<-s.persistDone
	}
}

// Handler serves the Plaid API subset, the Link simulator's script and its
// iframe UI.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	api := map[string]func(*http.Request, []byte) (any, *apiError){
		"/link/token/create":            s.linkTokenCreate,
		"/item/public_token/exchange":   s.publicTokenExchange,
		"/item/get":                     s.itemGet,
		"/accounts/get":                 s.accountsGet,
		"/accounts/balance/get":         s.accountsBalanceGet,
		"/item/remove":                  s.itemRemove,
		"/transactions/refresh":         s.transactionsRefresh,
		"/institutions/get_by_id":       s.institutionsGetByID,
		"/sandbox/item/reset_login":     s.sandboxResetLogin,
		"/sandbox/item/fire_webhook":    s.sandboxFireWebhook,
		"/sandbox/public_token/create":  s.sandboxPublicTokenCreate,
		"/webhook_verification_key/get": s.webhookVerificationKeyGet,
	}
	for path, h := range api {
		mux.Handle("POST "+path, s.apiHandler(h))
	}
	s.linkRoutes(mux)
	// Anything else is answered as Plaid answers an endpoint it does not
	// have: 404 with its error object.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeAPIError(w, r, newRequestID(), &apiError{Status: http.StatusNotFound, Type: "INVALID_REQUEST", Code: "NOT_FOUND",
			Message: "the requested endpoint does not exist: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// apiError is Plaid's error object plus the HTTP status it travels with.
type apiError struct {
	Status         int
	Type           string
	Code           string
	Message        string
	DisplayMessage string
}

// body is the error object as an API answer or an Item carries it.
func (e *apiError) body(requestID string) map[string]any {
	m := e.webhookBody()
	m["request_id"] = requestID
	return m
}

// webhookBody is the error object as a webhook carries it: Plaid's
// definition omits request_id there.
func (e *apiError) webhookBody() map[string]any {
	var display any
	if e.DisplayMessage != "" {
		display = e.DisplayMessage
	}
	return map[string]any{
		"error_type":        e.Type,
		"error_code":        e.Code,
		"error_message":     e.Message,
		"display_message":   display,
		"causes":            []any{},
		"status":            e.Status,
		"documentation_url": "https://plaid.com/docs/errors/",
		"suggested_action":  nil,
	}
}

type requestIDKey struct{}

// requestIDOf is the request_id the API answer to r carries.
func requestIDOf(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

func errInvalidRequest(code, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "INVALID_REQUEST", Code: code, Message: msg}
}

func errInvalidInput(code, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "INVALID_INPUT", Code: code, Message: msg}
}

func errItem(code, msg, display string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "ITEM_ERROR", Code: code, Message: msg, DisplayMessage: display}
}

// credentials are the API keys every request carries, in headers (how
// plaid-go sends them) or in the body.
type credentials struct {
	ClientID string `json:"client_id"`
	Secret   string `json:"secret"`
}

func (s *Server) apiHandler(h func(*http.Request, []byte) (any, *apiError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestID := newRequestID()
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.writeAPIError(w, r, requestID, errInvalidRequest("INVALID_BODY", "the request body could not be read"))
			return
		}
		var creds credentials
		if err := json.Unmarshal(body, &creds); err != nil {
			s.writeAPIError(w, r, requestID, errInvalidRequest("INVALID_BODY", "body could not be parsed as JSON"))
			return
		}
		if v := r.Header.Get("PLAID-CLIENT-ID"); v != "" {
			creds.ClientID = v
		}
		if v := r.Header.Get("PLAID-SECRET"); v != "" {
			creds.Secret = v
		}
		if creds.ClientID == "" || creds.Secret == "" {
			s.writeAPIError(w, r, requestID, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: client_id, secret"))
			return
		}
		if creds.ClientID != s.clientID || creds.Secret != s.secret {
			s.writeAPIError(w, r, requestID, errInvalidInput("INVALID_API_KEYS", "invalid client_id or secret provided"))
			return
		}
		resp, apiErr := h(r.WithContext(context.WithValue(r.Context(), requestIDKey{}, requestID)), body)
		if apiErr != nil {
			s.writeAPIError(w, r, requestID, apiErr)
			return
		}
		out, err := json.Marshal(resp)
		if err != nil {
			s.writeAPIError(w, r, requestID, &apiError{Status: 500, Type: "API_ERROR", Code: "INTERNAL_SERVER_ERROR", Message: "an unexpected error occurred"})
			return
		}
		// Every response object carries request_id; splice it in.
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		m["request_id"] = requestID
		s.log.Debug("plaid stand-in", "path", r.URL.Path, "request_id", requestID)
		writeJSON(w, http.StatusOK, m)
	})
}

func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, requestID string, e *apiError) {
	s.log.Info("plaid stand-in error", "path", r.URL.Path, "error_code", e.Code, "request_id", requestID)
	writeJSON(w, e.Status, e.body(requestID))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeBody(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return errInvalidRequest("INVALID_BODY", "body could not be parsed: "+err.Error())
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomBase62(n int) string {
	out := make([]byte, n)
	max := big.NewInt(int64(len(base62)))
	for i := range out {
		v, _ := rand.Int(rand.Reader, max)
		out[i] = base62[v.Int64()]
	}
	return string(out)
}

// newRequestID looks like Plaid's: 15 alphanumeric characters.
func newRequestID() string { return randomBase62(15) }

func newID() string { return randomBase62(37) }

func newUUID() string { return uuid.NewString() }
