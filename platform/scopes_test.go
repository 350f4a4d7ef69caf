package platform_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

func keyScopes(without ...string) harnessOption {
	return func(c *simplatform.Config) {
		c.KeyScopes = slices.DeleteFunc(simplatform.AllScopes(), func(sc string) bool { return slices.Contains(without, sc) })
	}
}

func (h *harness) config() platform.Config {
	return platform.Config{BaseURL: h.url, TokenURL: h.url + "/oauth/token", ClientID: h.sim.ClientID(), ClientSecret: h.sim.ClientSecret()}
}

func TestNegotiateScopes(t *testing.T) {
	ctx := context.Background()
	t.Run("every scope granted: everything on", func(t *testing.T) {
		h := newHarness(t)
		g, err := platform.NegotiateScopes(ctx, h.config(), platform.DefaultScopes())
		if err != nil || !g.Enabled(platform.FeatureTransfers) || !slices.Equal(g.Scopes, platform.DefaultScopes()) {
			t.Fatalf("got %+v, %v, want the default scopes and transfers on", g, err)
		}
		if slices.Contains(g.Scopes, platform.ScopeCustomersExecute) || slices.Contains(g.Scopes, platform.ScopeQuotesRead) {
			t.Errorf("scopes %v: the portal asks for a scope no feature needs", g.Scopes)
		}
	})
	t.Run("a key without transfers:execute: transfers off, the rest granted", func(t *testing.T) {
		h := newHarness(t, keyScopes(platform.ScopeTransfersExecute))
		if err := h.newClient(func(c *platform.Config) { c.Scopes = platform.DefaultScopes() }).CheckToken(ctx); !platform.IsInvalidScopes(err) {
			t.Fatalf("the simulator granted a token with a scope its key lacks: %v", err)
		}
		g, err := platform.NegotiateScopes(ctx, h.config(), platform.DefaultScopes())
		if err != nil || g.Enabled(platform.FeatureTransfers) || !strings.Contains(g.Off["transfers"], "refused") {
			t.Fatalf("got %+v, %v, want transfers off because the platform refused", g, err)
		}
		if !slices.Equal(g.Scopes, platform.CoreScopes) {
			t.Errorf("scopes: got %v, want the core ones %v", g.Scopes, platform.CoreScopes)
		}
		// The granted scopes work: accounts can be listed with them.
		c := h.newClient(func(c *platform.Config) { c.Scopes = g.Scopes })
		if _, err := c.ListExternalBankAccounts(ctx, platform.ListAccountsParams{}); err != nil {
			t.Errorf("list accounts with the granted scopes: %v", err)
		}
	})
	t.Run("transfers not configured: off without asking", func(t *testing.T) {
		h := newHarness(t)
		g, err := platform.NegotiateScopes(ctx, h.config(), platform.CoreScopes)
		if err != nil || g.Enabled(platform.FeatureTransfers) || !strings.Contains(g.Off["transfers"], "not in the configured") {
			t.Fatalf("got %+v, %v, want transfers off as not configured", g, err)
		}
	})
	t.Run("a key without a core scope: an error naming it", func(t *testing.T) {
		h := newHarness(t, keyScopes(platform.ScopeWorkflowsExecute))
		_, err := platform.NegotiateScopes(ctx, h.config(), platform.DefaultScopes())
		if !platform.IsInvalidScopes(err) || !strings.Contains(err.Error(), "accounts and Link") {
			t.Fatalf("got %v, want an invalid_scopes error about accounts and Link", err)
		}
	})
}

// The token NegotiateScopes was granted serves the client's first calls: a
// portal's start asks the platform for one bank token, not two (the full
// sync's budget counts it).
func TestNegotiatedTokenServesTheFirstCalls(t *testing.T) {
	ctx := context.Background()
	for name, without := range map[string][]string{"every scope granted": nil, "transfers refused": {platform.ScopeTransfersExecute}} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, keyScopes(without...))
			g, err := platform.NegotiateScopes(ctx, h.config(), platform.DefaultScopes())
			if err != nil || g.Token == nil {
				t.Fatalf("got %+v, %v, want a granted token", g, err)
			}
			if got, _ := g.Token.Extra("scope").(string); !slices.Equal(strings.Fields(got), g.Scopes) {
				t.Errorf("the token carries the scopes %q, want the granted %v", got, g.Scopes)
			}
			asked := h.requests.count("POST /oauth/token")
			cfg := h.config()
			cfg.Scopes, cfg.Token = g.Scopes, g.Token
			c := platform.New(cfg)
			for range 2 {
				if _, err := c.ListExternalBankAccounts(ctx, platform.ListAccountsParams{}); err != nil {
					t.Fatalf("list accounts with the negotiated token: %v", err)
				}
			}
			if n := h.requests.count("POST /oauth/token") - asked; n != 0 {
				t.Errorf("the client asked for %d more tokens after the negotiation, want 0", n)
			}
		})
	}
}

// roundTripFunc is a transport at the edge: a test decides per request.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The platform stops answering while the scopes are being probed (after it
// refused the full set): the start goes on with the scopes it granted, not
// the configured ones it already refused, and says which feature is off.
func TestNegotiateScopesInterruptedKeepsWhatWasGranted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, keyScopes(platform.ScopeTransfersExecute))
	var tokenRequests int
	cfg := h.config()
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/oauth/token" {
			tokenRequests++
			if tokenRequests == 3 { // all scopes: refused; the core: granted; the probe of transfers: no answer
				return nil, errors.New("connection reset by peer")
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	g, err := platform.NegotiateScopes(ctx, cfg, platform.DefaultScopes())
	if err == nil || platform.IsInvalidScopes(err) {
		t.Fatalf("got %v, want the transport's error", err)
	}
	if !slices.Equal(g.Scopes, platform.CoreScopes) || g.Enabled(platform.FeatureTransfers) || !strings.Contains(g.Off["transfers"], "could not be asked") {
		t.Fatalf("got scopes %v, off %v; want the core scopes and transfers off because the platform could not be asked", g.Scopes, g.Off)
	}
	// The scopes left are granted: the client works with them.
	cfg.Scopes, cfg.Token, cfg.HTTPClient = g.Scopes, g.Token, nil
	if _, err := platform.New(cfg).ListExternalBankAccounts(ctx, platform.ListAccountsParams{}); err != nil {
		t.Errorf("list accounts with the scopes left: %v", err)
	}
}

func TestParseScopes(t *testing.T) {
	if got, err := platform.ParseScopes(""); err != nil || !slices.Equal(got, platform.DefaultScopes()) {
		t.Errorf("empty: got %v, %v, want the defaults", got, err)
	}
	core := strings.Join(platform.CoreScopes, ",")
	if got, err := platform.ParseScopes(core + " " + platform.ScopeTransfersRead); err != nil || len(got) != len(platform.CoreScopes)+1 {
		t.Errorf("core plus one: got %v, %v", got, err)
	}
	for _, bad := range []string{"transfers:everything", platform.ScopeTransfersExecute} {
		if _, err := platform.ParseScopes(bad); err == nil {
			t.Errorf("ParseScopes(%q): accepted, want an error", bad)
		}
	}
}
