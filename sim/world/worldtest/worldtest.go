// Package worldtest starts the simulated world for a test: every platform
// exchange checked against the platform's definitions, every Plaid answer
// held to plaid-go's models, everything stopped by the test's Cleanup.
package worldtest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bankconnections/portal/platform/contract"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	"github.com/bankconnections/portal/sim/plaid/plaidcontract"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world"
)

// Options are what tests vary; the zero value is the stand-in Plaid with
// webhooks and refreshes at once (RefreshDelay -1) and a 50 ms storing delay.
type Options struct {
	// Plaid replaces the stand-in (a fake Plaid of the test's).
	Plaid simplatform.Plaid
	// StandIn configures the stand-in; RefreshDelay defaults to none.
	StandIn *simplaid.Config
	// StoringDelay of the platform simulator; 50 ms when zero.
	StoringDelay time.Duration
	// RedirectURIs the simulator accepts; the test portal's OAuth return when nil.
	RedirectURIs []string
	// KeyScopes of the simulated API key; every scope when nil.
	KeyScopes []string
	// NoContract leaves the platform's exchanges unchecked (tests that send
	// what the definitions forbid on purpose).
	NoContract bool
}

// World is the running world and the contract transport plaid-go's calls to
// the stand-in go through (nil with Options.Plaid).
type World struct {
	*world.World
	PlaidContract *plaidcontract.Transport
}

// New starts the world in t's temporary folder and stops it in t's Cleanup,
// after reporting every contract problem seen.
func New(t testing.TB, opts Options) *World {
	t.Helper()
	cfg := world.Config{Plaid: opts.Plaid, Platform: simplatform.Config{
		DataDir: t.TempDir(), StoringDelay: opts.StoringDelay, RedirectURIs: opts.RedirectURIs, KeyScopes: opts.KeyScopes,
	}}
	if cfg.Platform.StoringDelay == 0 {
		cfg.Platform.StoringDelay = 50 * time.Millisecond
	}
	if cfg.Platform.RedirectURIs == nil {
		cfg.Platform.RedirectURIs = []string{"http://portal.test/link/oauth-return"}
	}
	if !opts.NoContract {
		cfg.WrapPlatform = func(h http.Handler) http.Handler { return contract.Middleware(t, h) }
	}
	w := &World{}
	if opts.Plaid == nil {
		cfg.StandIn = simplaid.Config{RefreshDelay: -1}
		if opts.StandIn != nil {
			cfg.StandIn = *opts.StandIn
		}
		w.PlaidContract = &plaidcontract.Transport{}
		cfg.PlaidTransport = w.PlaidContract
		t.Cleanup(func() {
			for _, p := range w.PlaidContract.Problems() {
				t.Errorf("Plaid API contract: %s", p)
			}
		})
	}
	var err error
	if w.World, err = world.New(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}
