// Package world builds the offline world every demo and test runs against:
// the Plaid stand-in and the platform simulator, each behind its own loopback
// HTTP server, the platform reaching Plaid through plaid-go. One constructor
// keeps the demo, cmd/platformsim and the tests wired the same way.
package world

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/platform/plaidgo"
)

// Config says which world to build. The zero value (but for
// Platform.DataDir) is a stand-in Plaid and a platform simulator on
// ephemeral loopback ports.
type Config struct {
	// Plaid, when set, is the Plaid the platform simulator uses (a fake or a
	// stand-alone fallback); no stand-in starts and plaid-go is not used.
	Plaid simplatform.Plaid
	// RealPlaid, when its ClientID is set, sends plaid-go to Plaid's real
	// sandbox (ClientID, Secret, BaseURL) instead of starting the stand-in.
	RealPlaid plaidgo.Config
	// StandIn configures the Plaid stand-in.
	StandIn simplaid.Config
	// PlaidTransport carries plaid-go's requests (tests hold every answer
	// to plaid-go's models); http.DefaultTransport when nil.
	PlaidTransport http.RoundTripper
	// Platform configures the simulator; Plaid and WebhookURL are filled in.
	Platform simplatform.Config
	// WrapPlatform wraps the simulator's handler (tests check every
	// exchange against the platform's definitions).
	WrapPlatform func(http.Handler) http.Handler
	// PlatformListener and PlaidListener are where the servers listen; a
	// fresh 127.0.0.1 port each when nil. The world closes them.
	PlatformListener, PlaidListener net.Listener
	// Logger receives the servers' own errors; discarded when nil.
	Logger *slog.Logger
}

// World is the running simulators. Close stops them.
type World struct {
	// StandIn is the Plaid stand-in; nil with Config.Plaid or RealPlaid.
	StandIn *simplaid.Server
	// StandInURL serves the stand-in's API and its Link simulator.
	StandInURL string
	// PlaidAPI is how plaid-go reaches Plaid (the stand-in or the real
	// sandbox): client id, secret and base URL; empty with Config.Plaid.
	PlaidAPI plaidgo.Config
	// Platform is the platform simulator, served at PlatformURL.
	Platform    *simplatform.Server
	PlatformURL string

	servers []*http.Server
	errs    chan error
}

// New starts the world. On error nothing is left running.
func New(ctx context.Context, cfg Config) (w *World, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w = &World{errs: make(chan error, 2)}
	defer func() {
		if err != nil {
			w.Close()
			for _, ln := range []net.Listener{cfg.PlaidListener, cfg.PlatformListener} {
				if ln != nil {
					ln.Close()
				}
			}
		}
	}()
	plaid := cfg.Plaid
	if plaid == nil {
		if plaid, err = w.startPlaid(cfg, log); err != nil {
			return nil, err
		}
	}
	platLn := cfg.PlatformListener
	if platLn == nil {
		if platLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
	}
	cfg.PlatformListener = platLn
	w.PlatformURL = "http://" + platLn.Addr().String()
	pcfg := cfg.Platform
	pcfg.Plaid = plaid
	pcfg.WebhookURL = w.PlatformURL + "/plaid/webhook"
	if w.Platform, err = simplatform.New(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("platform simulator: %w", err)
	}
	h := w.Platform.Handler()
	if cfg.WrapPlatform != nil {
		h = cfg.WrapPlatform(h)
	}
	w.serve(platLn, h, log)
	return w, nil
}

// startPlaid starts the stand-in (unless RealPlaid is chosen) and returns
// plaid-go's adapter to it.
func (w *World) startPlaid(cfg Config, log *slog.Logger) (simplatform.Plaid, error) {
	w.PlaidAPI = cfg.RealPlaid
	if w.PlaidAPI.ClientID == "" {
		standIn, err := simplaid.New(cfg.StandIn)
		if err != nil {
			return nil, fmt.Errorf("plaid stand-in: %w", err)
		}
		w.StandIn = standIn
		ln := cfg.PlaidListener
		if ln == nil {
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return nil, err
			}
		}
		w.StandInURL = "http://" + ln.Addr().String()
		w.serve(ln, standIn.Handler(), log)
		w.PlaidAPI.ClientID, w.PlaidAPI.Secret, w.PlaidAPI.BaseURL = standIn.ClientID(), standIn.Secret(), w.StandInURL
	}
	api := w.PlaidAPI
	if cfg.PlaidTransport != nil {
		api.HTTPClient = &http.Client{Transport: cfg.PlaidTransport, Timeout: 30 * time.Second}
	}
	adapter, err := plaidgo.New(api)
	if err != nil {
		return nil, fmt.Errorf("plaid-go: %w", err)
	}
	return adapter, nil
}

func (w *World) serve(ln net.Listener, h http.Handler, log *slog.Logger) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // forced balance refreshes and the slow-platform fault take long
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	w.servers = append(w.servers, srv)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			w.errs <- err
		}
	}()
}

// Sandbox is the platform simulator's sandbox controls.
func (w *World) Sandbox() simplatform.Sandbox { return simplatform.Sandbox{BaseURL: w.PlatformURL} }

// Err receives a server's failure to serve (its listener broke).
func (w *World) Err() <-chan error { return w.errs }

// Close shuts the servers down (letting requests in flight finish, for a
// while) and then closes the simulators.
func (w *World) Close() {
	for _, s := range w.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if s.Shutdown(ctx) != nil {
			s.Close()
		}
		cancel()
	}
	if w.Platform != nil {
		w.Platform.Close()
	}
	if w.StandIn != nil {
		w.StandIn.Close()
	}
}
