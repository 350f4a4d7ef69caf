// Package connections is the portal's domain: it keeps the local copy of the
// platform's external bank accounts current (sync), runs the Link flows
// (link sessions, durable completions retried by a worker) and raises
// notifications. It is the only package that orchestrates platform and store.
package connections

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/store"
)

// Config tunes the service.
type Config struct {
	BankGUID string
	// SyncInterval is the schedule of the full sync; pages trigger one when
	// the data is older than StaleAfter (default: SyncInterval).
	SyncInterval time.Duration
	StaleAfter   time.Duration
	// RedirectURI is the registered OAuth return page of the portal.
	RedirectURI string
	// BankScopes are the scopes the bank token was granted; customer tokens
	// ask for no scope outside them (the platform would refuse it). Empty: all.
	BankScopes []string
	// Institutions looks institution names up at Plaid; nil when the portal
	// has no Plaid keys (names then come from Link's metadata only).
	Institutions InstitutionLookup
	// PortalURL is the portal's public base URL, for links in emails.
	PortalURL string
	// LeaseCheckEvery is how often the service ends refreshes whose instance
	// stopped (their lease ran out); default 15 s.
	LeaseCheckEvery time.Duration
}

// Service is the connections domain.
type Service struct {
	log  *slog.Logger
	db   *store.DB
	bank *platform.Client
	cfg  Config
	now  func() time.Time
	// holder names this instance in leases (see leases.go).
	holder string

	mu        sync.Mutex
	customers map[string]*platform.Client // customer guid -> client with that customer's token
	// lookupFailures holds when an institution's name lookup last failed.
	lookupFailures map[string]time.Time

	syncMu      sync.Mutex // one sync at a time
	syncRunning chan struct{}
	wake        chan struct{} // nudges the completion worker

	// Work started off the request path (link token polls, follow-ups,
	// page-triggered syncs) runs under bgCtx; Run's end cancels and waits for it.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
}

// New builds the service. bank is a platform client with the bank's token.
func New(log *slog.Logger, db *store.DB, bank *platform.Client, cfg Config) *Service {
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 30 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = cfg.SyncInterval
	}
	if cfg.LeaseCheckEvery <= 0 {
		cfg.LeaseCheckEvery = 15 * time.Second
	}
	bgCtx, bgCancel := context.WithCancel(context.Background())
	return &Service{log: log, db: db, bank: bank, cfg: cfg, now: time.Now, holder: newHolder(),
		customers: map[string]*platform.Client{}, wake: make(chan struct{}, 1), bgCtx: bgCtx, bgCancel: bgCancel}
}

// SetClock replaces the service's clock (tests: public token expiry).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// customerScopes are what a customer's own token may do.
var customerScopes = []string{
	platform.ScopeExternalBankAccountsRead, platform.ScopeExternalBankAccountsWrite, platform.ScopeExternalBankAccountsExecute,
	platform.ScopeWorkflowsRead, platform.ScopeWorkflowsExecute,
	platform.ScopeQuotesRead, platform.ScopeQuotesExecute, platform.ScopeTransfersRead, platform.ScopeTransfersExecute,
}

// customerScopes are the customer scopes within the bank token's.
func (s *Service) customerScopes() []string {
	if len(s.cfg.BankScopes) == 0 {
		return customerScopes
	}
	var out []string
	for _, sc := range customerScopes {
		if slices.Contains(s.cfg.BankScopes, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// clientFor returns the platform client that acts for an owner: the customer's
// own token for a customer, the bank's for the organization's connections. The
// platform then refuses anything outside that customer, even if the portal erred.
func (s *Service) clientFor(customerGUID string) *platform.Client {
	if customerGUID == "" {
		return s.bank
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customers[customerGUID]
	if !ok {
		c = s.bank.ForCustomer(customerGUID, s.customerScopes())
		s.customers[customerGUID] = c
	}
	return c
}

// Run starts the background work (scheduled sync, completion worker, the
// check for refreshes of stopped instances) until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.runSync(ctx) }()
	go func() { defer wg.Done(); s.runCompletions(ctx) }()
	go func() { defer wg.Done(); s.runLeaseChecks(ctx) }()
	wg.Wait()
	// Another instance need not wait for this one's sync lease to run out.
	if err := s.db.ReleaseLease(context.WithoutCancel(ctx), syncLeaseName, s.holder); err != nil {
		s.log.Warn("release the sync lease", "err", err)
	}
	s.bgCancel()
	s.bg.Wait()
}

// spawn runs fn off the request path, under the service's background context.
func (s *Service) spawn(fn func(ctx context.Context)) {
	s.bg.Add(1)
	go func() { defer s.bg.Done(); fn(s.bgCtx) }()
}
