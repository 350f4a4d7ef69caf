package connections_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	plaidapi "github.com/plaid/plaid-go/v20/plaid"
	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/internal/pgtest"
	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world/worldtest"
	"github.com/bankconnections/portal/store"
)

// env is the real world of the connections domain: the platform simulator and
// the Plaid stand-in over HTTP, a real SQLite file, real plaid-go.
type env struct {
	t       *testing.T
	db      *store.DB
	svc     *connections.Service
	bank    *platform.Client
	plaid   *simplaid.Server
	sandbox simplatform.Sandbox
	alice   store.User
	bob     store.User
	admin   store.User
	lossy   *lossyTransport
	// open opens one more handle on the env's database, as another portal
	// instance would; platCfg and svcCfg build that instance's clients.
	open    func() *store.DB
	platCfg platform.Config
	svcCfg  connections.Config
}

// lossyTransport delivers requests but can lose the answer to the next one
// that matches, as a network cut after the platform acted would.
type lossyTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	loseN int    // answers still to lose
	match string // "METHOD /path-prefix"
	sent  map[string]int
}

func (l *lossyTransport) loseNext(method, prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loseN, l.match = 1, method+" "+prefix
}

func (l *lossyTransport) count(method, prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[method+" "+prefix]
}

func (l *lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.base.RoundTrip(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = map[string]int{}
	}
	key := r.Method + " " + r.URL.Path
	l.sent[key]++
	if l.loseN > 0 && strings.HasPrefix(key, l.match) {
		l.loseN--
		if err == nil {
			res.Body.Close()
		}
		return nil, errors.New("connection reset after the request was sent")
	}
	return res, err
}

// The store engines the core tests run on; the PostgreSQL half is skipped
// with a message unless PORTAL_TEST_DATABASE_URL names a server (pgtest).
const (
	engineSQLite   = "sqlite"
	enginePostgres = "postgres"
)

// eachEngine runs test once per store engine, as subtests named after it.
func eachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	for _, engine := range []string{engineSQLite, enginePostgres} {
		t.Run(engine, func(t *testing.T) { test(t, engine) })
	}
}

// eachEnv runs test on a fresh env of each store engine.
func eachEnv(t *testing.T, test func(t *testing.T, e *env)) {
	t.Helper()
	eachEngine(t, func(t *testing.T, engine string) { test(t, newEnvOn(t, engine)) })
}

// storeOpener makes a fresh database of the engine and returns how to open
// a handle on it; every call is one more handle on the same data (another
// portal instance), closed after the test.
func storeOpener(t *testing.T, engine string) func() *store.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portal.db")
	var url string
	if engine == enginePostgres {
		url = pgtest.URL(t)
	}
	return func() *store.DB {
		t.Helper()
		var db *store.DB
		var err error
		if url != "" {
			db, err = store.OpenPostgres(context.Background(), url)
		} else {
			db, err = store.Open(context.Background(), path)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}

// openStore opens a fresh database of the engine.
func openStore(t *testing.T, engine string) *store.DB {
	t.Helper()
	return storeOpener(t, engine)()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, engineSQLite)
}

func newEnvOn(t *testing.T, engine string) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := worldtest.New(t, worldtest.Options{})
	sim, platURL := w.Platform, w.PlatformURL

	open := storeOpener(t, engine)
	db := open()
	lossy := &lossyTransport{base: http.DefaultTransport}
	platCfg := platform.Config{BaseURL: platURL, TokenURL: platURL + "/oauth/token", ClientID: sim.ClientID(),
		ClientSecret: sim.ClientSecret(), RetryBase: 10 * time.Millisecond, AttemptTimeout: 2 * time.Second,
		HTTPClient: &http.Client{Transport: lossy, Timeout: 30 * time.Second}}
	bank := platform.New(platCfg)
	e := &env{t: t, db: db, bank: bank, plaid: w.StandIn, sandbox: w.Sandbox(), lossy: lossy, open: open, platCfg: platCfg}
	e.svcCfg = connections.Config{BankGUID: sim.BankGUID(), SyncInterval: time.Hour,
		RedirectURI: "http://portal.test/link/oauth-return", Institutions: standInInstitutions(w.StandInURL, w.StandIn.ClientID(), w.StandIn.Secret(), w.PlaidContract)}
	e.svc = connections.New(log, db, bank, e.svcCfg)
	e.alice = e.user("alice@example.com", store.RoleCustomer, e.customer("Alice"))
	e.bob = e.user("bob@example.com", store.RoleCustomer, e.customer("Bob"))
	e.admin = e.user("admin@example.com", store.RoleAdmin, "")
	return e
}

// instance starts another portal instance on the env's database: its own
// store handle, platform client (through the same transport, so calls are
// counted together) and service, with its own lease holder.
func (e *env) instance() (*store.DB, *connections.Service) {
	e.t.Helper()
	db := e.open()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return db, connections.New(log, db, platform.New(e.platCfg), e.svcCfg)
}

func (e *env) customer(first string) string {
	e.t.Helper()
	c, err := e.bank.CreateCustomer(context.Background(), platform.CreateCustomerRequest{Type: platform.CustomerTypeIndividual, FirstName: first, LastName: "Test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.GUID
}

func (e *env) user(email, role, customer string) store.User {
	e.t.Helper()
	h, _ := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	u, err := e.db.CreateUser(context.Background(), store.User{Email: email, PasswordHash: string(h), Role: role, CustomerGUID: customer})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// linked creates a connection through Plaid and the platform, as a finished
// Link session would, waits until the platform stored it, and syncs.
func (e *env) linked(customerGUID, institution string) platform.ExternalBankAccount {
	e.t.Helper()
	ctx := context.Background()
	l, err := e.plaid.SandboxLink(institution, "")
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: l.AccountName, AccountKind: platform.AccountKindPlaid,
		Asset: "USD", CustomerGUID: customerGUID, PlaidPublicToken: l.PublicToken, PlaidAccountID: l.AccountID})
	if err != nil {
		e.t.Fatal(err)
	}
	e.eventually("account stored", func() bool {
		a, err = e.bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{})
		return err == nil && a.State != platform.StateStoring
	})
	e.sync()
	return a
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.svc.Sync(context.Background()); err != nil {
		e.t.Fatalf("sync: %v", err)
	}
}

// expire flags a connection refresh_required at the platform while its Plaid
// login stays good: the state after the person has signed in again in Link's
// update mode, which these tests do not drive. A reconnect then passes the
// check with the bank (see breakLogin for one that does not).
func (e *env) expire(guid string) {
	e.t.Helper()
	if err := e.sandbox.PinState(context.Background(), guid, platform.StateRefreshRequired, ""); err != nil {
		e.t.Fatal(err)
	}
	e.sync()
}

// breakLogin expires a connection the way the bank does: the platform's
// PATCH also expires the Plaid Item's login, so until the person signs in
// again in Link, the bank refuses to give data.
func (e *env) breakLogin(guid string) {
	e.t.Helper()
	if _, err := e.bank.PatchExternalBankAccount(context.Background(), guid, platform.PatchAccountRequest{State: platform.StateRefreshRequired}); err != nil {
		e.t.Fatal(err)
	}
	e.sync()
}

func (e *env) local(guid string) store.Account {
	e.t.Helper()
	a, err := e.db.Account(context.Background(), guid)
	if err != nil {
		e.t.Fatalf("local account %s: %v", guid, err)
	}
	return a
}

func (e *env) fault(f ...simplatform.Fault) {
	e.t.Helper()
	if err := e.sandbox.SetFaults(context.Background(), f); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { e.sandbox.ClearFaults(context.Background()) })
}

func (e *env) clearFaults() {
	e.t.Helper()
	if err := e.sandbox.ClearFaults(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// eventually polls cond until it holds or 15 s pass.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	testutil.Eventually(e.t, 15*time.Second, func() error {
		if !cond() {
			return fmt.Errorf("%s: not yet", what)
		}
		return nil
	})
}

// readySession starts Link and waits for its token.
func (e *env) readySession(u store.User, mode, guid string) store.LinkSession {
	e.t.Helper()
	ctx := context.Background()
	ls, err := e.svc.StartLink(ctx, u, mode, guid)
	if err != nil {
		e.t.Fatalf("start link: %v", err)
	}
	e.eventually("link token", func() bool {
		ls, err = e.svc.LinkSession(ctx, u, ls.ID)
		return err == nil && ls.State != store.LinkPending
	})
	if ls.State != store.LinkReady || ls.LinkToken == "" {
		e.t.Fatalf("link session: got state %s (%s), want ready with a token", ls.State, ls.Message)
	}
	return ls
}

// standInInstitutions looks names up at the Plaid stand-in through plaid-go,
// as the portal does at Plaid.
func standInInstitutions(baseURL, clientID, secret string, rt http.RoundTripper) connections.InstitutionLookup {
	cfg := plaidapi.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: rt, Timeout: 30 * time.Second}
	cfg.AddDefaultHeader("PLAID-CLIENT-ID", clientID)
	cfg.AddDefaultHeader("PLAID-SECRET", secret)
	cfg.UseEnvironment(plaidapi.Environment(baseURL))
	client := plaidapi.NewAPIClient(cfg)
	return func(ctx context.Context, id string) (string, error) {
		resp, _, err := client.PlaidApi.InstitutionsGetById(ctx).
			InstitutionsGetByIdRequest(*plaidapi.NewInstitutionsGetByIdRequest(id, []plaidapi.CountryCode{plaidapi.COUNTRYCODE_US})).Execute()
		if err != nil {
			return "", err
		}
		return resp.Institution.Name, nil
	}
}
