// Command platformsim runs the platform simulator on its own, for trying the
// portal against it or pointing a generated platform client at it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "platformsim:", err)
		os.Exit(1)
	}
}

type config struct {
	addr, dataDir          string
	clientID, clientSecret string
	redirectURIs           []string
	keyScopes              []string
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("platformsim", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "listen address")
	fs.StringVar(&cfg.dataDir, "data", "./data/platformsim", "directory of the simulator's SQLite file")
	fs.Func("redirect-uri", "an OAuth redirect URI link token workflows may name, e.g. a portal's http://127.0.0.1:8080/link/oauth-return (repeatable)",
		func(v string) error {
			if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return errors.New("give an absolute http(s) URL")
			}
			cfg.redirectURIs = append(cfg.redirectURIs, v)
			return nil
		})
	fs.Func("key-scopes", "the scopes the API key was created with, space-separated (default all), e.g. to try a key without transfers:execute",
		func(v string) error { cfg.keyScopes = strings.Fields(v); return nil })
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	// Credentials come from the environment only, never from flags.
	cfg.clientID, cfg.clientSecret = getenv("PLATFORMSIM_CLIENT_ID"), getenv("PLATFORMSIM_CLIENT_SECRET")
	if (cfg.clientID == "") != (cfg.clientSecret == "") {
		return cfg, errors.New("set both PLATFORMSIM_CLIENT_ID and PLATFORMSIM_CLIENT_SECRET, or neither")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	w, err := world.New(ctx, world.Config{
		Plaid: newStandalonePlaid(),
		Platform: simplatform.Config{
			DataDir:      cfg.dataDir,
			ClientID:     cfg.clientID,
			ClientSecret: cfg.clientSecret,
			RedirectURIs: cfg.redirectURIs,
			KeyScopes:    cfg.keyScopes,
			Logger:       log,
		},
		PlatformListener: ln,
		Logger:           log,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	sim, origin := w.Platform, w.PlatformURL

	fmt.Fprintf(stdout, "platform simulator (stand-alone Plaid fallback)\n  API URL:   %s\n  token URL: %s/oauth/token\n  bank guid: %s\n",
		origin, origin, sim.BankGUID())
	if cfg.clientID == "" {
		// Generated credentials are shown once so a local client can use them.
		fmt.Fprintf(stdout, "  client id: %s\n  secret:    %s\n", sim.ClientID(), sim.ClientSecret())
	}

	select {
	case err := <-w.Err():
		return err
	case <-ctx.Done():
	}
	return nil
}
