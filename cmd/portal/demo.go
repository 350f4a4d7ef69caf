package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/platform/plaidgo"
	"github.com/bankconnections/portal/sim/world"
	"github.com/bankconnections/portal/store"
)

type demoLogin struct{ Email, Password, Note string }

var demoLogins = []demoLogin{
	{"alice@example.com", "demo-alice", "a customer with connections in four states, one of them expired"},
	{"bob@example.com", "demo-bob", "a customer with a connected and a failed connection"},
	{"admin@example.com", "demo-admin", "the bank's admin, with the bank-connections tab over every connection"},
}

// demoEnv is the offline world of the demo: the Plaid stand-in and the
// platform simulator, each on its own loopback listener so every call the
// portal makes is real HTTP.
type demoEnv struct {
	world       *world.World
	plaid       *simplaid.Server // nil when real Plaid sandbox keys are set
	plaidURL    string           // where Link's script and frame come from
	platform    *simplatform.Server
	platformURL string
	// Plaid's API as plaid-go reaches it (the stand-in or Plaid's sandbox).
	plaidAPIURL, plaidClientID, plaidSecret string
}

func (d *demoEnv) Close() { d.world.Close() }

// neighbourAddr returns the address delta ports above addr (so the simulators
// keep their URLs across restarts), or port 0 when addr's port is 0.
func neighbourAddr(addr string, delta int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "127.0.0.1:0"
	}
	p, _ := strconv.Atoi(port)
	if p == 0 || host != "127.0.0.1" && host != "localhost" {
		return "127.0.0.1:0"
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p+delta))
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil && addr != "127.0.0.1:0" {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	return ln, err
}

// startDemo starts the Plaid stand-in (unless real Plaid keys are given) and
// the platform simulator.
func startDemo(ctx context.Context, cfg config, log *slog.Logger, redirectURI string) (*demoEnv, error) {
	wcfg := world.Config{
		RealPlaid: plaidgo.Config{ClientID: cfg.PlaidClientID, Secret: cfg.PlaidSecret, BaseURL: "https://sandbox.plaid.com", Logger: log},
		StandIn:   simplaid.Config{Logger: log.With("component", "plaid-standin"), StatePath: filepath.Join(cfg.DataDir, "plaid-standin.json")},
		Platform: simplatform.Config{DataDir: filepath.Join(cfg.DataDir, "platformsim"), RedirectURIs: []string{redirectURI},
			KeyScopes: cfg.DemoKeyScopes, Logger: log.With("component", "platform-sim")},
		Logger: log,
	}
	var err error
	if cfg.PlaidClientID == "" {
		if wcfg.PlaidListener, err = listen(neighbourAddr(cfg.Addr, 2)); err != nil {
			return nil, err
		}
	}
	if wcfg.PlatformListener, err = listen(neighbourAddr(cfg.Addr, 1)); err != nil {
		if wcfg.PlaidListener != nil {
			wcfg.PlaidListener.Close()
		}
		return nil, err
	}
	w, err := world.New(ctx, wcfg)
	if err != nil {
		return nil, err
	}
	d := &demoEnv{world: w, plaid: w.StandIn, plaidURL: w.StandInURL, platform: w.Platform, platformURL: w.PlatformURL,
		plaidAPIURL: w.PlaidAPI.BaseURL, plaidClientID: w.PlaidAPI.ClientID, plaidSecret: w.PlaidAPI.Secret}
	if d.plaid == nil {
		d.plaidURL = "https://cdn.plaid.com"
	}
	return d, nil
}

// demoConnection is one seeded connection.
type demoConnection struct {
	institution string
	account     int    // which of the institution's accounts
	state       string // the state it is left in
	failure     string
}

// seedDemo creates the demo customers and their connections once, through the
// platform's API and the Plaid stand-in, as a real bank's data would arise.
func seedDemo(ctx context.Context, db *store.DB, d *demoEnv, bank *platform.Client, log *slog.Logger) error {
	n, err := db.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	people := []struct {
		login       demoLogin
		first, last string
		conns       []demoConnection
	}{
		{demoLogins[0], "Alice", "Archer", []demoConnection{
			{"ins_109508", 0, store.StateCompleted, ""},
			{"ins_109509", 0, store.StateRefreshRequired, ""},
			{"ins_109512", 0, store.StateUnverified, ""},
			{"ins_109511", 0, store.StateStoring, ""},
		}},
		{demoLogins[1], "Bob", "Baker", []demoConnection{
			{"ins_109508", 0, store.StateCompleted, ""},
			{"ins_109508", 0, store.StateFailed, "duplicate"}, // the same account linked twice
		}},
	}
	sandbox := simplatform.Sandbox{BaseURL: d.platformURL}
	for _, p := range people {
		cust, err := bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: platform.CustomerTypeIndividual, FirstName: p.first, LastName: p.last, EmailAddress: p.login.Email})
		if err != nil {
			return fmt.Errorf("create customer: %w", err)
		}
		for _, c := range p.conns {
			if d.plaid == nil {
				break // with Plaid's real sandbox, customers link their own accounts
			}
			if err := seedConnection(ctx, bank, sandbox, d.plaid, cust.GUID, c); err != nil {
				return err
			}
		}
		u, err := newUser(p.login.Email, p.login.Password, store.RoleCustomer, cust.GUID)
		if err != nil {
			return err
		}
		if _, err := db.CreateUser(ctx, u); err != nil {
			return err
		}
	}
	// The organization's own connections: one working, and two at the same
	// bank, one of them expired (an update of either touches only that one).
	for _, c := range []demoConnection{{"ins_109508", 0, store.StateCompleted, ""}, {"ins_109510", 1, store.StateCompleted, ""}, {"ins_109510", 0, store.StateRefreshRequired, ""}} {
		if d.plaid == nil {
			break
		}
		if err := seedConnection(ctx, bank, sandbox, d.plaid, "", c); err != nil {
			return err
		}
	}
	u, err := newUser(demoLogins[2].Email, demoLogins[2].Password, store.RoleAdmin, "")
	if err != nil {
		return err
	}
	_, err = db.CreateUser(ctx, u)
	log.Info("demo data seeded")
	return err
}

func seedConnection(ctx context.Context, bank *platform.Client, sandbox simplatform.Sandbox, plaid *simplaid.Server, customerGUID string, c demoConnection) error {
	link, err := plaid.SandboxLinkAccount(c.institution, c.account, sandbox.BaseURL+"/plaid/webhook")
	if err != nil {
		return fmt.Errorf("sandbox link %s: %w", c.institution, err)
	}
	a, err := bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{
		Name: link.AccountName, AccountKind: platform.AccountKindPlaid, Asset: "USD", CustomerGUID: customerGUID,
		PlaidPublicToken: link.PublicToken, PlaidAccountID: link.AccountID,
	})
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for a.State == rules.Storing && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if a, err = bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{}); err != nil {
			return err
		}
	}
	if a.State == c.state {
		return nil
	}
	switch c.state {
	case store.StateRefreshRequired:
		// The real path: the platform forces the state and resets the Item's login at Plaid.
		_, err = bank.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.RefreshRequired})
	default:
		err = sandbox.PinState(ctx, a.GUID, c.state, c.failure)
	}
	return err
}
