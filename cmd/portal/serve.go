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
	"sync"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

func serve(ctx context.Context, cfg config, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(cfg.DataDir, "portal.db"))
	if err != nil {
		return err
	}
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
	bankGUID := cfg.PlatformBankGUID
	plaidOrigin, plaidScript := "https://cdn.plaid.com", "https://cdn.plaid.com/link/v2/stable/link-initialize.js"
	plaidConnect := []string{"https://sandbox.plaid.com", "https://production.plaid.com"}
	if cfg.demo() {
		env, err := startDemo(ctx, cfg, log, redirectURI)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer env.Close()
		platformCfg.BaseURL, platformCfg.TokenURL = env.platformURL, env.platformURL+"/oauth/token"
		platformCfg.ClientID, platformCfg.ClientSecret = env.platform.ClientID(), env.platform.ClientSecret()
		bankGUID = env.platform.BankGUID()
		if env.plaid != nil {
			plaidOrigin, plaidScript, plaidConnect = env.plaidURL, env.plaidURL+"/link/v2/stable/link-initialize.js", nil
		}
		bank := platform.New(platformCfg)
		if err := seedDemo(ctx, db, env, bank, log); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}
	bank := platform.New(platformCfg)
	conns := connections.New(log.With("component", "connections"), db, bank, connections.Config{
		BankGUID: bankGUID, SyncInterval: cfg.SyncInterval, RedirectURI: redirectURI, Sandbox: cfg.demo(), PortalURL: cfg.BaseURL,
	})
	if cfg.demo() {
		// The demo's first page shows data at once.
		syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conns.Sync(syncCtx)
		cancel()
	}

	sessions := web.NewSessions(db, hashKey, blockKey, cfg.secureCookies())
	h := handlers.New(log, db, sessions, conns, conns, assets, handlers.Options{LinkEnabled: true, Scripts: []string{plaidScript, assets.URL("link.js")}})
	// The on-demand refresh may take minutes: its own client, not retried.
	slowCfg := platformCfg
	slowCfg.AttemptTimeout, slowCfg.MaxRetries, slowCfg.HTTPClient = 0, -1, &http.Client{Timeout: 3 * time.Minute}
	smtpCfg := connections.SMTPConfig{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.SMTPFrom}
	admin := connections.NewAdmin(conns, platform.New(slowCfg), connections.AdminConfig{SMTPEnabled: smtpCfg.Enabled()})
	if err := admin.Recover(ctx); err != nil {
		return err
	}
	h.SetAdmin(admin)
	transfers := connections.NewTransfers(conns, connections.TransferConfig{Limit: cfg.TransferLimit})
	h.SetTransfers(transfers)
	e := web.New(web.Config{Log: log, Store: db, Assets: assets, Handler: h, Sessions: sessions, SecureCookies: cfg.secureCookies(),
		PlaidOrigin: plaidOrigin, PlaidConnect: plaidConnect})

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
	go func() { defer work.Done(); transfers.Run(workCtx) }()
	work.Add(1)
	go func() {
		defer work.Done()
		connections.NewMailer(log.With("component", "mailer"), db, smtpCfg).Run(workCtx)
	}()

	log.Info("portal listening", "url", cfg.BaseURL, "mode", map[bool]string{true: "demo", false: "live"}[cfg.demo()])
	if cfg.demo() && !cfg.Quiet {
		printBanner(stdout, cfg.BaseURL, demoLogins, platformCfg.BaseURL, plaidOrigin)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
	stopWork()
	work.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
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

func printBanner(w io.Writer, url string, logins []demoLogin, platformURL, plaidURL string) {
	fmt.Fprintf(w, "\nBank-connections portal demo is running: %s\n\nDemo logins:\n", url)
	for _, l := range logins {
		fmt.Fprintf(w, "  %-20s %-12s %s\n", l.Email, l.Password, l.Note)
	}
	fmt.Fprintln(w, "\nIn Plaid Link use user_good / pass_good (password mfa_device asks for code 1234; error_INVALID_CREDENTIALS fails).")
	fmt.Fprintf(w, "Platform simulator: %s (sandbox controls under /sandbox/)\nPlaid: %s\nStop with Ctrl-C.\n", platformURL, plaidURL)
}
