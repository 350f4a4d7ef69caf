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
	"time"

	"portal/handlers"
	"portal/static"
	"portal/store"
	"portal/web"
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

	var logins []demoLogin
	if cfg.demo() {
		logins, err = seedDemo(ctx, db)
		if err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
	}

	sessions := web.NewSessions(db, hashKey, blockKey, cfg.secureCookies())
	h := handlers.New(log, db, sessions, nil, assets, handlers.Options{})
	e := web.New(web.Config{Log: log, Store: db, Assets: assets, Handler: h, Sessions: sessions, SecureCookies: cfg.secureCookies()})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	url := "http://" + ln.Addr().String()
	log.Info("portal listening", "url", url, "mode", map[bool]string{true: "demo", false: "live"}[cfg.demo()])
	if cfg.demo() && !cfg.Quiet {
		printBanner(stdout, url, logins)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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

func printBanner(w io.Writer, url string, logins []demoLogin) {
	fmt.Fprintf(w, "\nBank-connections portal demo is running: %s\n\nDemo logins:\n", url)
	for _, l := range logins {
		fmt.Fprintf(w, "  %-20s %-12s %s\n", l.Email, l.Password, l.Note)
	}
	fmt.Fprintln(w, "\nIn Plaid Link use user_good / pass_good (password mfa_device asks for code 1234). Stop with Ctrl-C.")
}
