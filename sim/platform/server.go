// Package simplatform is the embedded platform simulator: the API of
// platform-api.md (OAuth2 tokens, customers, external bank accounts,
// workflows) over its own SQLite file, with the platform's asynchronous
// transitions, talking to Plaid through the Plaid interface.
//
// Its handlers read alike on purpose: each endpoint (loading one object
// with its own 404, checking its own filters, declaring its contract
// object) is written out as platform-api.md describes that endpoint, so a
// way in which two of the platform's endpoints differ has one obvious place
// to live. What is truly the same is shared (readRequest, listPage, where,
// parsePaging); the look-alike rest is kept on purpose.
//
// Besides the contract it serves a sandbox-control surface, answered only to
// loopback callers and never needed by the portal outside demos and tests:
//
//	POST   /sandbox/external_bank_accounts/{guid}/state  {"state","failure_code"}
//	       pins an account in a state; the simulator makes no automatic
//	       transition afterwards (an API PATCH or DELETE releases the pin).
//	POST   /sandbox/transfers/{guid}/state  {"state","failure_code"}
//	       pins a transfer in one of its seven states (no automatic transition afterwards).
//	POST   /sandbox/seed_accounts  {"customer_guid"|null,"count","state","institution_id"}
//	       bulk-inserts accounts with a fake Item (no Plaid calls) → {"guids":[...]}.
//	PUT    /sandbox/faults  {"faults":[{"method","path_prefix","status","latency_ms","timeout","rate","count","for_ms"}]}
//	       replaces the injected faults; DELETE /sandbox/faults clears them.
//	       A fault with timeout=true holds the request until its ctx ends;
//	       one with for_ms stops firing that long after it was set.
//
// Sandbox is a Go client of these. POST /plaid/webhook receives Plaid's Item
// webhooks (verified through Plaid.VerifyWebhook).
package simplatform

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// Config configures the simulator.
type Config struct {
	DataDir                string // holds platformsim.db
	ClientID, ClientSecret string // bank credentials; generated (and kept) when empty
	// KeyScopes are the scopes the bank's API key was created with (default
	// all): a token request for any other is refused with 403 invalid_scopes.
	KeyScopes     []string
	BankGUID      string // generated when empty, persisted
	Plaid         Plaid  // required
	RedirectURIs  []string
	WebhookURL    string        // given to Plaid for Item webhooks
	StoringDelay  time.Duration // storing → next state, and workflow token fetch; default 300 ms
	TokenLifetime time.Duration // access tokens; default 3600 s
	ClientName    string        // shown in Link; default "Bank Connections"
	Logger        *slog.Logger
}

// Server is the simulator. Handler serves the API; Close stops the
// background work and closes the database.
type Server struct {
	cfg       Config
	db        *sql.DB
	plaid     Plaid
	log       *slog.Logger
	bankGUID  string
	clientID  string
	secret    string
	signKey   []byte
	redirects map[string]bool
	keyScopes []string
	faults    *faultSet
	lists     listCache

	ctx    context.Context // ends at Close; background work runs under it
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

// New opens (or creates) the simulator's database and resumes any
// asynchronous work left unfinished by a previous run.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Plaid == nil {
		return nil, errors.New("simplatform: Config.Plaid is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("simplatform: Config.DataDir is required")
	}
	if cfg.StoringDelay <= 0 {
		cfg.StoringDelay = 300 * time.Millisecond
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "Bank Connections"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("simplatform: data dir: %w", err)
	}
	db, err := openDB(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("simplatform: open database: %w", err)
	}
	s := &Server{cfg: cfg, db: db, plaid: cfg.Plaid, log: log, faults: &faultSet{}, redirects: map[string]bool{}}
	for _, u := range cfg.RedirectURIs {
		s.redirects[u] = true
	}
	s.keyScopes = allScopes
	if len(cfg.KeyScopes) > 0 {
		for _, sc := range cfg.KeyScopes {
			if !slices.Contains(allScopes, sc) {
				db.Close()
				return nil, fmt.Errorf("simplatform: unknown key scope %q", sc)
			}
		}
		s.keyScopes = slices.Clone(cfg.KeyScopes)
	}
	if err := s.loadIdentity(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("simplatform: bank identity: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.resume(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("simplatform: resume: %w", err)
	}
	return s, nil
}

// loadIdentity reads the bank guid, credentials and signing key, creating
// the missing ones; credentials given in Config win and are stored.
func (s *Server) loadIdentity(ctx context.Context) error {
	return inTx(ctx, s.db, func(tx *sql.Tx) error {
		get := func(key, given string, generate func() string) (string, error) {
			var v string
			err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return "", err
			}
			if given != "" && given != v {
				v = given
			} else if v != "" {
				return v, nil
			} else {
				v = generate()
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v)
			return v, err
		}
		var err error
		if s.bankGUID, err = get("bank_guid", s.cfg.BankGUID, newGUID); err != nil {
			return err
		}
		if s.clientID, err = get("client_id", s.cfg.ClientID, func() string { return randomHex(16) }); err != nil {
			return err
		}
		if s.secret, err = get("client_secret", s.cfg.ClientSecret, func() string { return randomHex(32) }); err != nil {
			return err
		}
		key, err := get("signing_key", "", func() string { return randomHex(32) })
		if err != nil {
			return err
		}
		s.signKey, err = hex.DecodeString(key)
		return err
	})
}

func (s *Server) ClientID() string     { return s.clientID }
func (s *Server) ClientSecret() string { return s.secret }
func (s *Server) BankGUID() string     { return s.bankGUID }

// Close stops the background workers and closes the database.
func (s *Server) Close() error {
	s.cancel()
	s.bg.Wait()
	return s.db.Close()
}

// Handler serves the API, the token endpoints, the Plaid webhook and the
// sandbox controls; injected faults apply to everything but /sandbox.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("POST /api/customer_tokens", s.authed(scopeCustomersWrite, s.handleCreateCustomerToken))

	mux.HandleFunc("POST /api/customers", s.authed(scopeCustomersExecute, s.handleCreateCustomer))
	mux.HandleFunc("GET /api/customers", s.authed(scopeCustomersRead, s.handleListCustomers))
	mux.HandleFunc("GET /api/customers/{guid}", s.authed(scopeCustomersRead, s.handleGetCustomer))

	mux.HandleFunc("POST /api/external_bank_accounts", s.authed(scopeAccountsExecute, s.handleCreateAccount))
	mux.HandleFunc("GET /api/external_bank_accounts", s.authed(scopeAccountsRead, s.handleListAccounts))
	mux.HandleFunc("GET /api/external_bank_accounts/{guid}", s.authed(scopeAccountsRead, s.handleGetAccount))
	mux.HandleFunc("PATCH /api/external_bank_accounts/{guid}", s.authed(scopeAccountsWrite, s.handlePatchAccount))
	mux.HandleFunc("DELETE /api/external_bank_accounts/{guid}", s.authed(scopeAccountsExecute, s.handleDeleteAccount))

	mux.HandleFunc("POST /api/workflows", s.authed(scopeWorkflowsExecute, s.handleCreateWorkflow))
	mux.HandleFunc("GET /api/workflows", s.authed(scopeWorkflowsRead, s.handleListWorkflows))
	mux.HandleFunc("GET /api/workflows/{guid}", s.authed(scopeWorkflowsRead, s.handleGetWorkflow))

	mux.HandleFunc("POST /api/quotes", s.authed(scopeQuotesExecute, s.handleCreateQuote))
	mux.HandleFunc("GET /api/quotes/{guid}", s.authed(scopeQuotesRead, s.handleGetQuote))
	mux.HandleFunc("POST /api/transfers", s.authed(scopeTransfersExecute, s.handleCreateTransfer))
	mux.HandleFunc("GET /api/transfers", s.authed(scopeTransfersRead, s.handleListTransfers))
	mux.HandleFunc("GET /api/transfers/{guid}", s.authed(scopeTransfersRead, s.handleGetTransfer))

	mux.HandleFunc("POST /plaid/webhook", s.handlePlaidWebhook)

	mux.HandleFunc("POST /sandbox/external_bank_accounts/{guid}/state", s.loopbackOnly(s.handlePinState))
	mux.HandleFunc("POST /sandbox/transfers/{guid}/state", s.loopbackOnly(s.handlePinTransferState))
	mux.HandleFunc("POST /sandbox/seed_accounts", s.loopbackOnly(s.handleSeedAccounts))
	mux.HandleFunc("PUT /sandbox/faults", s.loopbackOnly(s.handleSetFaults))
	mux.HandleFunc("DELETE /sandbox/faults", s.loopbackOnly(s.handleClearFaults))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "Resource not found")
	})
	return s.withFaults(mux)
}

// after runs fn in the background once d has passed, unless the server closes first.
func (s *Server) after(d time.Duration, fn func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		fn(s.ctx)
	}()
}

// resume reschedules the transitions a previous run left pending.
func (s *Server) resume(ctx context.Context) error {
	type pending struct{ table, guid, state string }
	var work []pending
	for _, q := range []string{
		`SELECT 'account', guid, state FROM external_bank_accounts WHERE state IN ('storing', 'deleting') AND pinned = 0`,
		`SELECT 'workflow', guid, state FROM workflows WHERE state = 'storing'`,
		`SELECT 'customer', guid, state FROM customers WHERE state = 'storing'`,
	} {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p pending
			if err := rows.Scan(&p.table, &p.guid, &p.state); err != nil {
				rows.Close()
				return err
			}
			work = append(work, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, p := range work {
		switch {
		case p.table == "account" && p.state == stateStoring:
			s.scheduleAccountStored(p.guid)
		case p.table == "account":
			s.scheduleAccountRemoval(p.guid)
		case p.table == "workflow":
			s.scheduleLinkToken(p.guid)
		default:
			s.scheduleCustomerStored(p.guid)
		}
	}
	return nil
}

// Message codes.
const (
	codeInvalidValue            = "invalid_value"
	codeMissingParameter        = "missing_parameter"
	codeInvalidParameter        = "invalid_parameter"
	codeInvalidSubject          = "invalid_subject"
	codeAuthenticationFailed    = "authentication_failed"
	codeAuthenticationMalformed = "authentication_malformed"
	codeInvalidScopes           = "invalid_scopes"
	codeNotFound                = "not_found"
	codeNoCustomer              = "no_customer"
	codeRequestTimeout          = "request_timeout"
	// The two below come only from the simulator's own failures and
	// injected faults; the contract's list has no code for them.
	codeInternalError = "internal_error"
	codeRateLimited   = "rate_limited"
)

// apiError is the contract's error body.
type apiError struct {
	Status       int    `json:"status"`
	ErrorMessage string `json:"error_message"`
	MessageCode  string `json:"message_code"`
}

func (e *apiError) Error() string { return e.MessageCode + ": " + e.ErrorMessage }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, MessageCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Status: status, ErrorMessage: message, MessageCode: code})
}

// fail answers an *apiError as is and anything else as a logged 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae.Status, ae.MessageCode, ae.ErrorMessage)
		return
	}
	if r.Context().Err() != nil {
		writeError(w, http.StatusRequestTimeout, codeRequestTimeout, "Request timed out")
		return
	}
	s.log.ErrorContext(r.Context(), "simulator request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, codeInternalError, "Internal error.")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decodeBody reads a JSON body of at most 1 MiB, refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusBadRequest, codeInvalidValue, "Request body too large")
		case len(err.Error()) > 0 && isUnknownField(err):
			return errorf(http.StatusBadRequest, codeInvalidParameter, "%s", err.Error())
		default:
			return errorf(http.StatusBadRequest, codeInvalidValue, "Malformed JSON body")
		}
	}
	return nil
}

func isUnknownField(err error) bool {
	const prefix = "json: unknown field "
	msg := err.Error()
	return len(msg) > len(prefix) && msg[:len(prefix)] == prefix
}

// apiTime is the contract's time format: UTC with milliseconds.
type apiTime time.Time

func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = apiTime(v)
	return nil
}

func timePtr(ms sql.NullInt64) *apiTime {
	if !ms.Valid {
		return nil
	}
	t := apiTime(fromMillis(ms.Int64))
	return &t
}

func newGUID() string { return randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validGUID is 32 lowercase hex characters.
func validGUID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
