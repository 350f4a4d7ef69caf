package platform_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/platform/contract"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

// fakePlaid is the simulator's Plaid as func fields; newFakePlaid fills in
// a well-behaved Plaid that tests override field by field.
type fakePlaid struct {
	createLinkToken     func(context.Context, simplatform.LinkTokenRequest) (simplatform.LinkToken, error)
	exchangePublicToken func(context.Context, string) (simplatform.ItemAccess, error)
	accounts            func(context.Context, string) (simplatform.Item, []simplatform.Account, error)
	refreshTransactions func(context.Context, string) error
	balances            func(context.Context, string) (map[string]simplatform.Balance, error)
	resetLogin          func(context.Context, string) error
	removeItem          func(context.Context, string) error
	verifyWebhook       func(context.Context, string, []byte) (simplatform.Webhook, error)

	mu    sync.Mutex
	calls []string
}

var _ simplatform.Plaid = (*fakePlaid)(nil)

func (f *fakePlaid) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakePlaid) called(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakePlaid) CreateLinkToken(ctx context.Context, req simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
	f.record("CreateLinkToken")
	return f.createLinkToken(ctx, req)
}
func (f *fakePlaid) ExchangePublicToken(ctx context.Context, pt string) (simplatform.ItemAccess, error) {
	f.record("ExchangePublicToken")
	return f.exchangePublicToken(ctx, pt)
}
func (f *fakePlaid) Accounts(ctx context.Context, at string) (simplatform.Item, []simplatform.Account, error) {
	f.record("Accounts")
	return f.accounts(ctx, at)
}
func (f *fakePlaid) RefreshTransactions(ctx context.Context, at string) error {
	f.record("RefreshTransactions")
	return f.refreshTransactions(ctx, at)
}
func (f *fakePlaid) Balances(ctx context.Context, at string) (map[string]simplatform.Balance, error) {
	f.record("Balances")
	return f.balances(ctx, at)
}
func (f *fakePlaid) ResetLogin(ctx context.Context, at string) error {
	f.record("ResetLogin")
	return f.resetLogin(ctx, at)
}
func (f *fakePlaid) RemoveItem(ctx context.Context, at string) error {
	f.record("RemoveItem")
	return f.removeItem(ctx, at)
}
func (f *fakePlaid) VerifyWebhook(ctx context.Context, h string, body []byte) (simplatform.Webhook, error) {
	f.record("VerifyWebhook")
	return f.verifyWebhook(ctx, h, body)
}

func int64p(v int64) *int64 { return &v }

// newFakePlaid: public token "public-X" gives Item "item-X" sharing one
// account "acct-X" (mask 1234, "Plaid Checking") at ins_109508.
func newFakePlaid() *fakePlaid {
	f := &fakePlaid{}
	f.createLinkToken = func(context.Context, simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
		return simplatform.LinkToken{Token: "link-sandbox-test", Expiration: time.Now().Add(time.Hour)}, nil
	}
	f.exchangePublicToken = func(_ context.Context, pt string) (simplatform.ItemAccess, error) {
		id := strings.TrimPrefix(pt, "public-")
		return simplatform.ItemAccess{AccessToken: "access-" + id, ItemID: "item-" + id}, nil
	}
	f.accounts = func(_ context.Context, at string) (simplatform.Item, []simplatform.Account, error) {
		id := strings.TrimPrefix(at, "access-")
		return simplatform.Item{ItemID: "item-" + id, InstitutionID: "ins_109508"},
			[]simplatform.Account{{AccountID: "acct-" + id, Name: "Plaid Checking", Mask: "1234", Type: "depository", Subtype: "checking"}}, nil
	}
	f.refreshTransactions = func(context.Context, string) error { return nil }
	f.balances = func(_ context.Context, at string) (map[string]simplatform.Balance, error) {
		id := strings.TrimPrefix(at, "access-")
		return map[string]simplatform.Balance{"acct-" + id: {Available: int64p(12_345), Current: int64p(13_000)}}, nil
	}
	f.resetLogin = func(context.Context, string) error { return nil }
	f.removeItem = func(context.Context, string) error { return nil }
	f.verifyWebhook = func(context.Context, string, []byte) (simplatform.Webhook, error) { return simplatform.Webhook{}, nil }
	return f
}

// requestLog counts the requests that reach the simulator, by "METHOD path".
type requestLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *requestLog) count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[key]
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts = map[string]int{}
}

type harness struct {
	sim      *simplatform.Server
	url      string
	plaid    *fakePlaid
	requests *requestLog
	sandbox  simplatform.Sandbox
	client   *platform.Client
}

type harnessOption func(*simplatform.Config)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{plaid: newFakePlaid(), requests: &requestLog{counts: map[string]int{}}}
	cfg := simplatform.Config{
		DataDir:      t.TempDir(),
		Plaid:        h.plaid,
		RedirectURIs: []string{"https://portal.example/link/oauth"},
		StoringDelay: 20 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	sim, err := simplatform.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("simplatform.New: %v", err)
	}
	// Every exchange is checked against the platform's definitions.
	handler := contract.Middleware(t, sim.Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.mu.Lock()
		h.requests.counts[r.Method+" "+r.URL.Path]++
		h.requests.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("sim.Close: %v", err)
		}
	})
	h.sim, h.url = sim, srv.URL
	h.sandbox = simplatform.Sandbox{BaseURL: srv.URL}
	h.client = h.newClient(nil)
	return h
}

// newClient is a bank client; edit adjusts its config.
func (h *harness) newClient(edit func(*platform.Config)) *platform.Client {
	cfg := platform.Config{
		BaseURL:      h.url,
		TokenURL:     h.url + "/oauth/token",
		ClientID:     h.sim.ClientID(),
		ClientSecret: h.sim.ClientSecret(),
		RetryBase:    5 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	return platform.New(cfg)
}

// newHarnessWithCustomer is a harness with one individual customer, Ada.
func newHarnessWithCustomer(t *testing.T, opts ...harnessOption) (*harness, platform.Customer) {
	t.Helper()
	h := newHarness(t, opts...)
	return h, h.createCustomer(t)
}

func (h *harness) createCustomer(t *testing.T) platform.Customer {
	t.Helper()
	c, err := h.client.CreateCustomer(context.Background(), platform.CreateCustomerRequest{
		Type: platform.CustomerTypeIndividual, FirstName: "Ada", LastName: "Lovelace", EmailAddress: "ada@example.com",
	})
	if err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	return c
}

// linkAccount creates a Plaid account for customerGUID ("" for bank-level)
// from public token "public-<id>".
func (h *harness) linkAccount(t *testing.T, customerGUID, id string) platform.ExternalBankAccount {
	t.Helper()
	a, err := h.client.CreateExternalBankAccount(context.Background(), platform.CreateAccountRequest{
		Name: "Checking " + id, AccountKind: platform.AccountKindPlaid, Asset: "USD", CustomerGUID: customerGUID,
		PlaidPublicToken: "public-" + id, PlaidAccountID: "acct-" + id,
	})
	if err != nil {
		t.Fatalf("CreateExternalBankAccount: %v", err)
	}
	return a
}

// waitForState polls the account until it reaches want, failing after a deadline.
func (h *harness) waitForState(t *testing.T, guid, want string) platform.ExternalBankAccount {
	t.Helper()
	var a platform.ExternalBankAccount
	testutil.Eventually(t, 30*time.Second, func() error {
		var err error
		a, err = h.client.GetExternalBankAccount(context.Background(), guid, platform.GetAccountOptions{})
		if err != nil {
			t.Fatalf("GetExternalBankAccount(%s): %v", guid, err)
		}
		if a.State != want {
			return fmt.Errorf("account %s state: got %q, want %q", guid, a.State, want)
		}
		return nil
	})
	return a
}

func (h *harness) waitForWorkflow(t *testing.T, guid string) platform.Workflow {
	t.Helper()
	var wf platform.Workflow
	testutil.Eventually(t, 30*time.Second, func() error {
		var err error
		wf, err = h.client.GetWorkflow(context.Background(), guid)
		if err != nil {
			t.Fatalf("GetWorkflow(%s): %v", guid, err)
		}
		if wf.State == platform.WorkflowStateStoring {
			return fmt.Errorf("workflow %s: got %s, want a final state", guid, wf.State)
		}
		return nil
	})
	return wf
}

// wantError checks err is a *platform.Error with status and code.
func wantError(t *testing.T, err error, status int, code string) *platform.Error {
	t.Helper()
	var pe *platform.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error: got %T %v, want *platform.Error %d %s", err, err, status, code)
	}
	if pe.Status != status || pe.MessageCode != code {
		t.Fatalf("error: got %d %s (%s), want %d %s", pe.Status, pe.MessageCode, pe.ErrorMessage, status, code)
	}
	return pe
}
