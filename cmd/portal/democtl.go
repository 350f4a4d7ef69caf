package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/plaid/plaid-go/v20/plaid"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
)

// The Demo controls panel's backend: it drives the simulators the demo runs
// in-process, so every story of the demo is one click, and it resets the
// demo to the state it was seeded in.

const (
	seedDir        = "demo-seed" // the seeded state, inside the data dir
	seedPortal     = "portal.db"
	seedPlatform   = "platformsim.db"
	seedPlaid      = "plaid-standin.json"
	outage         = time.Minute      // "make the platform fail for the next minute"
	slowdown       = 10 * time.Minute // the slow platform recovers by itself after this
	slowLinkTokens = 10 * time.Second
)

type demoController struct {
	log     *slog.Logger
	db      *store.DB
	conns   *connections.Service
	bank    *platform.Client
	env     *demoEnv
	sandbox simplatform.Sandbox
	plaid   *plaid.APIClient
	dir     string // where the seeded state is kept

	mu    sync.Mutex
	mode  string // "failing", "slow" or "" (normal)
	until time.Time
}

var _ handlers.Demo = (*demoController)(nil)

func newDemoController(log *slog.Logger, db *store.DB, conns *connections.Service, bank *platform.Client, env *demoEnv, dataDir string) *demoController {
	pc := plaid.NewConfiguration()
	pc.AddDefaultHeader("PLAID-CLIENT-ID", env.plaidClientID)
	pc.AddDefaultHeader("PLAID-SECRET", env.plaidSecret)
	pc.UseEnvironment(plaid.Environment(env.plaidAPIURL))
	return &demoController{log: log, db: db, conns: conns, bank: bank, env: env, sandbox: simplatform.Sandbox{BaseURL: env.platformURL},
		plaid: plaid.NewAPIClient(pc), dir: filepath.Join(dataDir, seedDir)}
}

// keepSeed copies the freshly seeded state aside, for Reset.
func (d *demoController) keepSeed(ctx context.Context) error {
	tmp := d.dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	if err := d.db.Snapshot(ctx, filepath.Join(tmp, seedPortal)); err != nil {
		return fmt.Errorf("portal snapshot: %w", err)
	}
	if err := d.env.platform.Snapshot(ctx, filepath.Join(tmp, seedPlatform)); err != nil {
		return fmt.Errorf("platform snapshot: %w", err)
	}
	if d.env.plaid != nil {
		b, err := d.env.plaid.Snapshot()
		if err != nil {
			return fmt.Errorf("plaid snapshot: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, seedPlaid), b, 0o600); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	return os.Rename(tmp, d.dir)
}

func (d *demoController) Logins() []views.DemoLogin {
	out := make([]views.DemoLogin, len(demoLogins))
	for i, l := range demoLogins {
		name, _, _ := strings.Cut(l.Email, "@")
		out[i] = views.DemoLogin{Email: l.Email, Name: strings.ToUpper(name[:1]) + name[1:], Note: l.Note}
	}
	return out
}

func (d *demoController) Platform() (string, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mode == "" || time.Now().After(d.until) {
		return "normal", time.Time{}
	}
	return d.mode, d.until
}

func (d *demoController) setMode(mode string, until time.Time) {
	d.mu.Lock()
	d.mode, d.until = mode, until
	d.mu.Unlock()
}

func (d *demoController) ResetReady() bool {
	if d.db.Engine() != "sqlite" {
		return false // the reset copies SQLite files
	}
	_, err := os.Stat(filepath.Join(d.dir, seedPortal))
	return err == nil
}

// pick chooses the customer's connection a story acts on: the first one in
// one of the given states.
func (d *demoController) pick(ctx context.Context, customerGUID string, states ...string) (store.Account, bool, error) {
	accounts, err := d.db.CustomerAccounts(ctx, customerGUID)
	if err != nil {
		return store.Account{}, false, err
	}
	for _, s := range states {
		for _, a := range accounts {
			if a.State == s && a.AccountKind == "plaid" {
				return a, true, nil
			}
		}
	}
	return store.Account{}, false, nil
}

func title(a store.Account) string {
	name := a.InstitutionName
	if name == "" {
		name = "the bank"
	}
	if a.AccountMask != "" {
		return name + " ••" + a.AccountMask
	}
	return name
}

// syncNow brings the portal's copy up to date at once, so the page the
// audience watches changes now rather than at the next scheduled sync.
func (d *demoController) syncNow(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return d.conns.Sync(ctx)
}

func (d *demoController) ExpireConnection(ctx context.Context, customerGUID string) (string, error) {
	a, ok, err := d.pick(ctx, customerGUID, store.StateCompleted, store.StateUnverified)
	if err != nil || !ok {
		return "No connected connection is left to expire: reconnect one, or reset the demo.", err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// What the platform's sandbox does: force the state and reset the Item's login at Plaid.
	if _, err := d.bank.PatchExternalBankAccount(pctx, a.GUID, platform.PatchAccountRequest{State: platform.StateRefreshRequired}); err != nil {
		d.log.Warn("demo: expire", "guid", a.GUID, "err", err)
		return "The platform did not answer, so nothing expired: recover the platform first.", nil
	}
	if err := d.syncNow(ctx); err != nil {
		return "", err
	}
	return "The bank login of " + title(a) + " expired: its row now says Refresh required, and a banner tells the customer.", nil
}

func (d *demoController) FireWebhook(ctx context.Context, customerGUID, code string) (string, error) {
	// The platform flags a login that expired only on a connection that works
	// (the seeded Unverified one is held in its state by the sandbox).
	states := []string{store.StateCompleted}
	if code == "PENDING_DISCONNECT" {
		states = append(states, store.StateUnverified, store.StateRefreshRequired)
	}
	a, ok, err := d.pick(ctx, customerGUID, states...)
	if err != nil || !ok {
		return "No Connected connection is left for Plaid to flag: reconnect one, or reset the demo.", err
	}
	tok, err := d.env.platform.AccountAccessToken(ctx, a.GUID)
	if err != nil {
		return "", err
	}
	if code == "PENDING_DISCONNECT" {
		_, _, err := d.plaid.PlaidApi.SandboxItemFireWebhook(ctx).SandboxItemFireWebhookRequest(*plaid.NewSandboxItemFireWebhookRequest(tok, code)).Execute()
		if err != nil {
			return "", fmt.Errorf("fire webhook: %w", err)
		}
		return "Plaid warned the platform that " + title(a) + " will soon disconnect (PENDING_DISCONNECT). The platform records it; the connection keeps working until the login expires.", nil
	}
	// Plaid's sandbox way to a login that expired: the Item's login is reset
	// and Plaid sends ITEM_LOGIN_REQUIRED to the platform.
	if _, _, err := d.plaid.PlaidApi.SandboxItemResetLogin(ctx).SandboxItemResetLoginRequest(*plaid.NewSandboxItemResetLoginRequest(tok)).Execute(); err != nil {
		return "", fmt.Errorf("reset login: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got, err := d.bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{})
		if err == nil && got.State == platform.StateRefreshRequired {
			if err := d.syncNow(ctx); err != nil {
				return "", err
			}
			return "Plaid sent ITEM_LOGIN_REQUIRED for " + title(a) + ": the platform flagged it, and its row says Refresh required.", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return "Plaid sent ITEM_LOGIN_REQUIRED for " + title(a) + "; the platform has not flagged it yet (is it failing?).", nil
}

func (d *demoController) FailPlatform(ctx context.Context) (string, error) {
	ms := int(outage / time.Millisecond)
	// Link tokens and the tokens to ask for them still pass, so Link opens and
	// the audience sees a reconnect survive the outage.
	err := d.sandbox.SetFaults(ctx, []simplatform.Fault{
		{PathPrefix: "/oauth/", ForMS: ms},
		{PathPrefix: "/api/customer_tokens", ForMS: ms},
		{PathPrefix: "/api/workflows", ForMS: ms},
		{PathPrefix: "/api/", Status: 500, ForMS: ms},
	})
	if err != nil {
		return "", err
	}
	until := time.Now().Add(outage)
	d.setMode("failing", until)
	return "The platform answers 500 to every account and customer call until " + until.Local().Format("15:04:05") + ". Reconnect a connection now: it waits with Finishing…", nil
}

func (d *demoController) SlowPlatform(ctx context.Context) (string, error) {
	err := d.sandbox.SetFaults(ctx, []simplatform.Fault{
		{Method: "POST", PathPrefix: "/api/workflows", LatencyMS: int(slowLinkTokens / time.Millisecond), ForMS: int(slowdown / time.Millisecond)},
	})
	if err != nil {
		return "", err
	}
	d.setMode("slow", time.Now().Add(slowdown))
	return "A link token now takes 10 s: click Reconnect or Link a bank account and watch the progress.", nil
}

func (d *demoController) RecoverPlatform(ctx context.Context) (string, error) {
	if err := d.sandbox.ClearFaults(ctx); err != nil {
		return "", err
	}
	d.setMode("", time.Time{})
	// The audience should not wait out a retry's backoff: queued completions
	// are retried now, and the page shows them finish (the answer does not
	// wait for them, so a slow machine never makes the button time out).
	if err := d.db.RetryCompletionsNow(ctx); err != nil {
		return "", err
	}
	if err := d.syncNow(ctx); err != nil {
		return "", err
	}
	return "The platform is back: anything that waited with Finishing… finishes now, with no further click.", nil
}

func (d *demoController) Reset(ctx context.Context) (string, error) {
	if !d.ResetReady() {
		return "", errors.New("demo reset: no seeded state kept")
	}
	start := time.Now()
	if err := d.sandbox.ClearFaults(ctx); err != nil {
		return "", err
	}
	d.setMode("", time.Time{})
	// The platform first, the system of record; then Plaid's Items; then the
	// portal's copy, which the sync then confirms.
	if err := d.env.platform.Restore(ctx, filepath.Join(d.dir, seedPlatform)); err != nil {
		return "", fmt.Errorf("restore platform: %w", err)
	}
	if d.env.plaid != nil {
		b, err := os.ReadFile(filepath.Join(d.dir, seedPlaid))
		if err != nil {
			return "", err
		}
		if err := d.env.plaid.Restore(b); err != nil {
			return "", fmt.Errorf("restore plaid: %w", err)
		}
	}
	if err := d.db.RestoreSnapshot(ctx, filepath.Join(d.dir, seedPortal)); err != nil {
		return "", fmt.Errorf("restore portal: %w", err)
	}
	if err := d.syncNow(ctx); err != nil {
		d.log.Warn("demo: sync after reset", "err", err)
	}
	took := time.Since(start)
	d.log.Info("demo reset", "took_ms", took.Milliseconds())
	return fmt.Sprintf("The demo is as seeded again (reset in %.1f s).", took.Seconds()), nil
}
