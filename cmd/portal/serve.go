package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/mail"
	"github.com/bankconnections/portal/metrics"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/web"
)

func serve(ctx context.Context, cfg config, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	if cfg.demo() && cfg.DemoResetOnStart {
		if err := wipeDemoData(cfg.DataDir); err != nil {
			return fmt.Errorf("demo reset on start: %w", err)
		}
	}
	db, err := openStore(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	log.Info("store", "engine", db.Engine())
	defer db.Close()
	hashKey, blockKey, err := sessionKeys(cfg)
	if err != nil {
		return err
	}
	assets, err := static.Load()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.BaseURL == "http://"+cfg.Addr {
		cfg.BaseURL = "http://" + ln.Addr().String() // port 0 resolved
	}
	redirectURI := cfg.BaseURL + "/link/oauth-return"

	platformCfg := platform.Config{BaseURL: cfg.PlatformURL, TokenURL: cfg.PlatformTokenURL, ClientID: cfg.PlatformClientID,
		ClientSecret: cfg.PlatformClientSecret, Logger: log.With("component", "platform-client"), AttemptTimeout: 20 * time.Second}
	// Metrics only when asked for: without -metrics-addr nothing is measured.
	var met *metrics.Metrics
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		defer metricsLn.Close()
		met = metrics.New(log.With("component", "metrics"), db, connections.SyncJob)
		platformCfg.HTTPClient = &http.Client{Timeout: 60 * time.Second, Transport: met.Transport(nil)}
	}
	bankGUID := cfg.PlatformBankGUID
	// Live mode (and the demo with real Plaid keys) loads Link from Plaid's CDN
	// under the policy Plaid documents for it.
	link := web.LinkSource{Origin: "https://cdn.plaid.com", Script: "https://cdn.plaid.com/link/v2/stable/link-initialize.js",
		Connect: []string{"https://sandbox.plaid.com", "https://production.plaid.com"}}
	// Institution names missing from the connections are asked of Plaid when
	// the portal holds Plaid keys.
	var institutions connections.InstitutionLookup
	if cfg.PlaidClientID != "" {
		if institutions, err = plaidInstitutions("https://"+cfg.PlaidEnv+".plaid.com", cfg.PlaidClientID, cfg.PlaidSecret, log); err != nil {
			return err
		}
	}
	var demoEnvOf *demoEnv
	freshDemo := false
	if cfg.demo() {
		env, err := startDemo(ctx, cfg, log, redirectURI)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer env.Close()
		demoEnvOf = env
		platformCfg.BaseURL, platformCfg.TokenURL = env.platformURL, env.platformURL+"/oauth/token"
		platformCfg.ClientID, platformCfg.ClientSecret = env.platform.ClientID(), env.platform.ClientSecret()
		bankGUID = env.platform.BankGUID()
		if env.plaid != nil {
			if institutions, err = plaidInstitutions(env.plaidURL, env.plaid.ClientID(), env.plaid.Secret(), log); err != nil {
				return err
			}
			// The Link simulator stands in for Plaid's CDN (and API) origin.
			link = web.LinkSource{Origin: env.plaidURL, Script: env.plaidURL + "/link/v2/stable/link-initialize.js", Connect: []string{env.plaidURL}}
			if !cfg.LiveLinkCSP {
				link = web.LinkSource{Origin: env.plaidURL}
			}
		}
		if n, err := db.CountUsers(ctx); err != nil {
			return err
		} else {
			freshDemo = n == 0
		}
		// Seeding creates customers and links accounts: nothing of money movement.
		seedCfg := platformCfg
		seedCfg.Scopes = append(slices.Clone(platform.CoreScopes), platform.ScopeCustomersExecute)
		if err := seedDemo(ctx, db, env, platform.New(seedCfg), log); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}
	grant, err := negotiateScopes(ctx, platformCfg, cfg.PlatformScopes, log)
	if err != nil {
		return err
	}
	platformCfg.Scopes, platformCfg.Token = grant.Scopes, grant.Token // the sync and the first calls need no token request of their own
	bank := platform.New(platformCfg)
	conns := connections.New(log.With("component", "connections"), db, bank, connections.Config{
		BankGUID: bankGUID, SyncInterval: cfg.SyncInterval, RedirectURI: redirectURI, BankScopes: grant.Scopes, Institutions: institutions, PortalURL: cfg.BaseURL,
	})
	var demoCtl *demoController
	if cfg.demo() {
		// The demo's first page shows data at once.
		syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conns.Sync(syncCtx)
		cancel()
		demoCtl = newDemoController(log.With("component", "demo"), db, conns, bank, demoEnvOf, cfg.DataDir)
		if db.Engine() != "sqlite" {
			log.Info("demo: the reset button and -demo-reset-on-start are SQLite-only; off with PostgreSQL")
		} else if freshDemo {
			if err := demoCtl.keepSeed(ctx); err != nil {
				// The demo still runs; only its reset button is unavailable.
				log.Warn("demo: keep the seeded state", "err", err)
			}
		}
	}

	// The on-demand refresh may take minutes: its own client, not retried.
	slowCfg := platformCfg
	slowCfg.AttemptTimeout, slowCfg.MaxRetries, slowCfg.HTTPClient = 0, -1, &http.Client{Timeout: 3 * time.Minute}
	if met != nil {
		slowCfg.HTTPClient.Transport = met.Transport(nil)
	}
	smtpCfg := mail.Config{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom}
	var mailSender connections.Sender // nil: emails stay in the outbox
	if smtpCfg.Enabled() {
		mailSender = mail.NewSender(smtpCfg)
	}
	admin := connections.NewAdmin(conns, platform.New(slowCfg), connections.AdminConfig{SMTPEnabled: smtpCfg.Enabled()})
	if err := admin.Recover(ctx); err != nil {
		return err
	}
	sessions := web.NewSessions(db, hashKey, blockKey, cfg.secureCookies())
	deps := handlers.Deps{Store: db, Sessions: sessions, Assets: assets, Syncer: conns, Links: conns, Admin: admin}
	var transfers *connections.Transfers
	if grant.Enabled(platform.FeatureTransfers) {
		transfers = connections.NewTransfers(conns, connections.TransferConfig{Limit: cfg.TransferLimit})
		deps.Transfers = transfers
	}
	if demoCtl != nil { // a nil *demoController in the interface would not read as nil
		deps.Demo = demoCtl
	}
	deps.Ready = bank
	h := handlers.New(log, deps, handlers.Options{LinkEnabled: true, Scripts: []string{plaidScriptURL(link), assets.URL("link.js")}})
	webCfg := web.Config{Log: log, Store: db, Assets: assets, Handler: h, Sessions: sessions, SecureCookies: cfg.secureCookies(),
		PlaidOrigin: link.Origin, PlaidScript: link.Script, PlaidConnect: link.Connect, TrustedProxies: cfg.TrustedProxies, BaseURL: cfg.BaseURL}
	if met != nil {
		webCfg.ObserveRequest = met.ObserveRequest
	}
	e := web.New(webCfg)

	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var work sync.WaitGroup
	work.Add(1)
	go func() { defer work.Done(); conns.Run(workCtx) }()
	work.Add(1)
	go func() {
		defer work.Done()
		web.RunSessionCleanup(workCtx, log.With("component", "sessions"), db, time.Hour)
	}()
	if transfers != nil {
		work.Add(1)
		go func() { defer work.Done(); transfers.Run(workCtx) }()
	}
	work.Add(1)
	go func() {
		defer work.Done()
		connections.NewMailer(log.With("component", "mailer"), db, mailSender).Run(workCtx)
	}()

	log.Info("portal listening", "url", cfg.BaseURL, "mode", map[bool]string{true: "demo", false: "live"}[cfg.demo()])
	if cfg.demo() {
		log.Info("demo simulators", "platform_url", platformCfg.BaseURL, "plaid_url", link.Origin)
		if !cfg.Quiet {
			// One line, and nothing opened: the page's Demo controls do the rest.
			fmt.Fprintf(stdout, "Bank-connections portal demo is running: %s\n", cfg.BaseURL)
		}
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	// Metrics have a listener of their own, never the public one: what they
	// tell (routes, queues, platform outcomes) is for the operator.
	var metricsSrv *http.Server
	if met != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", met.Handler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		log.Info("metrics listening", "url", "http://"+metricsLn.Addr().String()+"/metrics")
		go func() { errc <- metricsSrv.Serve(metricsLn) }()
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if metricsSrv != nil {
		if serr := metricsSrv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	stopWork()
	work.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// negotiateScopes asks the platform for a bank token with scopes and switches
// off, with a log line each, the features whose scopes the API key lacks. An
// API key without the core scopes stops the start; a platform that cannot be
// asked now leaves the scopes not known to be refused (the token is fetched
// again later).
func negotiateScopes(ctx context.Context, pc platform.Config, scopes []string, log *slog.Logger) (platform.Grant, error) {
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	grant, err := platform.NegotiateScopes(nctx, pc, scopes)
	switch {
	case platform.IsInvalidScopes(err):
		return grant, fmt.Errorf("platform scopes: %w", err)
	case err != nil:
		log.Warn("could not check the platform scopes at start; asking for those not known to be refused", "scopes", strings.Join(grant.Scopes, " "), "err", err)
	}
	for _, f := range platform.Features {
		if reason, off := grant.Off[f.Name]; off {
			log.Warn("feature switched off: "+f.Name, "feature", f.Name, "reason", reason)
		}
	}
	log.Info("platform scopes", "scopes", strings.Join(grant.Scopes, " "))
	return grant, nil
}

// sessionKeys returns the cookie signing and encryption keys: from
// PORTAL_SESSION_KEY (128 hex characters) or a file made once in the data dir.
func sessionKeys(cfg config) (hashKey, blockKey []byte, err error) {
	var raw []byte
	if cfg.SessionKey != "" {
		raw, err = hex.DecodeString(cfg.SessionKey)
		if err != nil || len(raw) != 64 {
			return nil, nil, errors.New("PORTAL_SESSION_KEY must be 128 hex characters")
		}
		return raw[:32], raw[32:], nil
	}
	path := filepath.Join(cfg.DataDir, "session.key")
	raw, err = os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw = make([]byte, 64)
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	if len(raw) != 64 {
		return nil, nil, fmt.Errorf("%s: expected 64 bytes", filepath.Base(path))
	}
	return raw[:32], raw[32:], nil
}

// wipeDemoData removes the demo's data (the portal's and the simulators'
// databases, Plaid's Items, the kept seed), so the demo starts fresh; the
// session key stays.
func wipeDemoData(dir string) error {
	for _, name := range []string{"portal.db", "portal.db-wal", "portal.db-shm", "platformsim", "plaid-standin.json", seedDir, seedDir + ".tmp"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// plaidScriptURL is where the page loads Link's script from.
func plaidScriptURL(link web.LinkSource) string {
	if link.Script != "" {
		return link.Script
	}
	return link.Origin + "/link/v2/stable/link-initialize.js"
}
