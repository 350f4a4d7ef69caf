// Command bench measures the portal against its performance budgets: it
// builds the real portal and platform simulator binaries, seeds a large
// dataset, starts the portal in live mode against the simulator, drives load
// with wrk using the cookies of real logins, and prints one table with every
// figure next to its budget.
//
//	go run ./cmd/bench                       # the full dataset (about 5 minutes)
//	go run ./cmd/bench -connections 100000 -customers 10000 -sync-accounts 20000 -duration 5s
//	go run ./cmd/bench -database postgres://postgres@127.0.0.1:5432/postgres   # two portals on PostgreSQL
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	connections, customers, bankLevel, syncAccounts int
	duration, warmup                                time.Duration
	accountsConns, adminConns, linkWorkers, threads int
	dir                                             string
	keep                                            bool
	only                                            string
	database                                        string // "" (SQLite) or a postgres:// URL to create databases on
}

func (c config) postgres() bool { return c.database != "" }

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&c.connections, "connections", 1_000_000, "connections in the portal's database (admin tab)")
	fs.IntVar(&c.customers, "customers", 100_000, "customers the connections belong to")
	fs.IntVar(&c.bankLevel, "bank-level", -1, "of the connections, bank-level ones (no customer); default 1%")
	fs.IntVar(&c.syncAccounts, "sync-accounts", 100_000, "accounts in the platform simulator for the full sync")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "load per scenario")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each scenario")
	fs.IntVar(&c.accountsConns, "accounts-conns", 50, "concurrent connections for the baseline and the accounts page")
	fs.IntVar(&c.adminConns, "admin-conns", 10, "concurrent connections for the admin pages and the Link flows")
	fs.IntVar(&c.threads, "threads", runtime.NumCPU(), "wrk threads")
	fs.StringVar(&c.dir, "dir", "", "working directory for binaries and data (default: a temporary one)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory")
	fs.StringVar(&c.only, "only", "", "run only the page load (load) or only the full sync (sync)")
	fs.StringVar(&c.database, "database", "", "postgres:// URL of a server (and a role that may create databases): the portals run on "+
		"PostgreSQL, two instances behind the load; the benchmark creates its databases there and drops them at the end (kept with -keep)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.bankLevel < 0 {
		c.bankLevel = c.connections / 100
	}
	switch {
	case c.connections < 1000 || c.customers < 1 || c.bankLevel > c.connections:
		return c, fmt.Errorf("-connections must be at least 1000, -customers at least 1, -bank-level at most -connections")
	case c.syncAccounts < 1 || c.syncAccounts > 200_000:
		return c, fmt.Errorf("-sync-accounts must be 1 to 200000")
	case c.duration < time.Second:
		return c, fmt.Errorf("-duration must be at least 1s")
	case c.only != "" && c.only != "load" && c.only != "sync":
		return c, fmt.Errorf("-only: give load or sync")
	}
	return c, nil
}

// Budgets of the performance issue (2-core machine).
const (
	budgetAccountsRatio = 0.35
	// On PostgreSQL every page read crosses a socket to another process on the same 2 CPUs.
	budgetAccountsRatioPostgres = 0.25
	budgetAccountsP99           = 25 * time.Millisecond
	budgetAdminP99              = 50 * time.Millisecond
	budgetSync                  = 20 * time.Second
	budgetSyncRequests          = 1001
	budgetColdStart             = time.Second
	budgetRSS                   = 150 << 20
)

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "portal-bench"); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !cfg.keep && cfg.dir == "" {
		defer os.RemoveAll(dir)
	}
	step := func(format string, a ...any) { fmt.Fprintf(stdout, "· "+format+"\n", a...) }
	w, err := newWrk(dir, cfg.threads)
	if err != nil {
		return err
	}

	step("building the portal and the platform simulator")
	portalBin, simBin, err := buildBinaries(ctx, dir)
	if err != nil {
		return err
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	rep := &report{}
	if cfg.only == "sync" {
		step("full sync: %d accounts in the simulator, a fresh portal", cfg.syncAccounts)
		if err := syncScenario(ctx, cfg, dir, portalBin, simBin, rep); err != nil {
			rep.syncErr = err
		}
		rep.print(stdout, cfg)
		return rep.syncErr
	}
	sim, err := startSimulator(simBin, filepath.Join(dir, "sim-load"), "http://127.0.0.1:"+port+"/link/oauth-return")
	if err != nil {
		return err
	}
	defer sim.stop()
	bank := platform.New(platform.Config{BaseURL: sim.URL, TokenURL: sim.URL + "/oauth/token", ClientID: simClientID, ClientSecret: simClientSecret})
	linkCustomer, err := bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: "individual", FirstName: "Bench", LastName: "Link"})
	if err != nil {
		return fmt.Errorf("create the Link customer on the simulator: %w", err)
	}

	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	portalDir := filepath.Join(dir, "portal-load")
	if err := os.MkdirAll(portalDir, 0o700); err != nil {
		return err
	}
	seedCfg := seedConfig{Connections: cfg.connections, Customers: cfg.customers, BankLevel: cfg.bankLevel,
		BankGUID: sim.BankGUID, LinkCustomer: linkCustomer.GUID, PasswordHash: string(hash)}
	seedStart := time.Now()
	var info seedInfo
	databaseURL := "" // SQLite in portalDir
	if cfg.postgres() {
		var drop func() error
		if databaseURL, drop, err = createDatabase(ctx, cfg.database, "load"); err != nil {
			return err
		}
		if !cfg.keep {
			defer drop()
		}
		step("seeding the portal's PostgreSQL database: %d connections across %d customers (%d bank-level), a customer with 20", cfg.connections, cfg.customers, cfg.bankLevel)
		if info, err = seedPostgres(ctx, databaseURL, seedCfg); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		step("seeded in %s", time.Since(seedStart).Round(100*time.Millisecond))
	} else {
		step("seeding the portal: %d connections across %d customers (%d bank-level), a customer with 20", cfg.connections, cfg.customers, cfg.bankLevel)
		if info, err = seedPortal(ctx, portalDir, seedCfg); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if fi, err := os.Stat(filepath.Join(portalDir, "portal.db")); err == nil {
			step("seeded in %s (%d MB)", time.Since(seedStart).Round(100*time.Millisecond), fi.Size()>>20)
		}
	}

	// The portal: a long sync interval and a fresh job_status row, so neither the
	// schedule nor page views reconcile the local table during the run.
	step("starting the portal with the large database")
	p, err := startPortal(portalBin, port, portalDir, databaseURL, sim.URL, sim.BankGUID, "1h", nil)
	if err != nil {
		return err
	}
	defer p.stop()
	rep.coldStart = p.ColdStart
	portals := []*portalProc{p}
	if cfg.postgres() {
		// A second instance on the same database; the load is split across both.
		port2, err := freePort()
		if err != nil {
			return err
		}
		step("starting a second portal on the same database")
		p2, err := startPortal(portalBin, port2, filepath.Join(dir, "portal-load-2"), databaseURL, sim.URL, sim.BankGUID, "1h", nil)
		if err != nil {
			return err
		}
		defer p2.stop()
		portals = append(portals, p2)
		if err := w.splitAcross(dir, []string{port, port2}); err != nil {
			return err
		}
	}

	customer, err := login(ctx, p.URL, customerEmail, benchPassword)
	if err != nil {
		return err
	}
	admin, err := login(ctx, p.URL, adminEmail, benchPassword)
	if err != nil {
		return err
	}
	linker, err := login(ctx, p.URL, linkEmail, benchPassword)
	if err != nil {
		return err
	}

	type scenario struct {
		name, path string
		sess       *session
		conns      int
		testID     string
		rows       int
		budget     func(r result, base float64) (string, bool)
	}
	accountsBudget := func(r result, base float64) (string, bool) {
		if cfg.postgres() {
			ok := r.RPS() >= budgetAccountsRatioPostgres*base && r.Errors == 0
			return fmt.Sprintf("≥%.2f×, 0 err", budgetAccountsRatioPostgres), ok
		}
		ok := r.RPS() >= budgetAccountsRatio*base && r.P99 <= budgetAccountsP99 && r.Errors == 0
		return fmt.Sprintf("≥%.2f×, p99≤%s, 0 err", budgetAccountsRatio, ms(budgetAccountsP99)), ok
	}
	adminBudget := func(r result, base float64) (string, bool) {
		return "p99≤" + ms(budgetAdminP99) + ", 0 err", r.P99 <= budgetAdminP99 && r.Errors == 0
	}
	scenarios := []scenario{
		{"baseline /healthz", "/healthz", nil, cfg.accountsConns, "", 0, nil},
		{"accounts page (20 connections)", "/accounts", customer, cfg.accountsConns, "account-row", 20, accountsBudget},
		{"admin: first page", "/admin/connections", admin, cfg.adminConns, "admin-connection-row", 50, adminBudget},
		{"admin: deep page (~90%)", "/admin/connections?after=" + info.DeepCursor, admin, cfg.adminConns, "admin-connection-row", 50, adminBudget},
		{"admin: state=refresh_required", "/admin/connections?state=refresh_required", admin, cfg.adminConns, "admin-connection-row", 50, adminBudget},
		{"admin: institution", "/admin/connections?institution=ins_109511", admin, cfg.adminConns, "admin-connection-row", 50, adminBudget},
		{"admin: state + institution, deep", "/admin/connections?state=refresh_required&institution=ins_109511&after=" + info.DeepCursor, admin, cfg.adminConns, "admin-connection-row", 1, adminBudget},
	}
	var baseRPS float64
	for _, sc := range scenarios {
		cookie := ""
		if sc.sess != nil {
			if err := sc.sess.expectPage(ctx, sc.path, sc.testID, sc.rows); err != nil {
				return err
			}
			cookie = sc.sess.header()
		}
		step("load: %s (%d connections, %s)", sc.name, sc.conns, cfg.duration)
		if cfg.warmup > 0 {
			if _, err := w.run(ctx, p.URL+sc.path, sc.conns, max(cfg.warmup, time.Second), cookie); err != nil {
				return err
			}
		}
		r, err := w.run(ctx, p.URL+sc.path, sc.conns, cfg.duration, cookie)
		if err != nil {
			return err
		}
		if sc.sess != nil {
			// Still signed in: wrk would not count a redirect to the login form as an error.
			if err := sc.sess.expectPage(ctx, sc.path, sc.testID, sc.rows); err != nil {
				return fmt.Errorf("after the load: %w", err)
			}
		}
		row := row{name: sc.name, conns: sc.conns, r: r, tool: "wrk"}
		if sc.budget == nil {
			baseRPS = r.RPS()
			row.budget, row.verdict = "(baseline)", ""
		} else {
			b, ok := sc.budget(r, baseRPS)
			row.budget, row.verdict = b, passFail(ok)
		}
		rep.rows = append(rep.rows, row)
	}
	rep.baseRPS = baseRPS

	step("Link flows: start, poll for the token, complete (%d at a time, %s)", cfg.adminConns, cfg.duration)
	startL, pollL, completeL, flows, flowErr := linkFlows(ctx, linker, cfg.adminConns, cfg.duration)
	for _, l := range []struct {
		name string
		l    *latencies
	}{{"link: POST /link/sessions", startL}, {"link: GET /link/sessions/:id", pollL}, {"link: POST …/complete", completeL}} {
		r := l.l.result(cfg.duration)
		rep.rows = append(rep.rows, row{name: l.name, conns: cfg.adminConns, r: r, tool: "go", budget: "0 err", verdict: passFail(r.Errors == 0)})
	}
	rep.flows = flows
	if flowErr != nil {
		step("a Link flow failed: %v", flowErr)
	}

	for _, p := range portals {
		rss, err := peakRSS(p.pid())
		if err != nil {
			return err
		}
		rep.rss = max(rep.rss, rss)
		p.stop()
	}
	sim.stop()
	if cfg.only == "load" {
		rep.print(stdout, cfg)
		return nil
	}

	step("full sync: %d accounts in the simulator, a fresh portal", cfg.syncAccounts)
	if err := syncScenario(ctx, cfg, dir, portalBin, simBin, rep); err != nil {
		// The figures measured so far still count: print them with the failure.
		rep.syncErr = err
	}
	rep.print(stdout, cfg)
	return rep.syncErr
}

// syncScenario seeds a fresh simulator, starts a portal with an empty
// database (so it syncs at once) behind a counting proxy, and reads the
// portal's "sync done" log line.
func syncScenario(ctx context.Context, cfg config, dir, portalBin, simBin string, rep *report) error {
	accounts := cfg.syncAccounts
	databaseURL := ""
	if cfg.postgres() {
		var drop func() error
		var err error
		if databaseURL, drop, err = createDatabase(ctx, cfg.database, "sync"); err != nil {
			return err
		}
		if !cfg.keep {
			defer drop()
		}
	}
	portalPort, err := freePort()
	if err != nil {
		return err
	}
	sim, err := startSimulator(simBin, filepath.Join(dir, "sim-sync"), "http://127.0.0.1:"+portalPort+"/link/oauth-return")
	if err != nil {
		return err
	}
	defer sim.stop()
	// Customers' accounts, 1,000 per customer, and 1% bank-level ones (all
	// completed: a first sync of expired ones would also send emails).
	bank := platform.New(platform.Config{BaseURL: sim.URL, TokenURL: sim.URL + "/oauth/token", ClientID: simClientID, ClientSecret: simClientSecret})
	bankLevel := accounts / 100
	if n := bankLevel; n > 0 {
		if _, err := (simplatform.Sandbox{BaseURL: sim.URL}).SeedAccounts(ctx, simplatform.SeedRequest{Count: n}); err != nil {
			return fmt.Errorf("seed the simulator: %w", err)
		}
	}
	for left, i := accounts-bankLevel, 0; left > 0; i++ {
		n := min(left, 1000)
		c, err := bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: "individual", FirstName: "Sync", LastName: fmt.Sprint(i)})
		if err != nil {
			return fmt.Errorf("create a customer on the simulator: %w", err)
		}
		req := simplatform.SeedRequest{CustomerGUID: &c.GUID, Count: n, InstitutionID: institutions[i%len(institutions)].ID}
		if _, err := (simplatform.Sandbox{BaseURL: sim.URL}).SeedAccounts(ctx, req); err != nil {
			return fmt.Errorf("seed the simulator: %w", err)
		}
		left -= n
	}
	target, _ := url.Parse(sim.URL)
	var requests atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	port, err := freePort()
	if err != nil {
		return err
	}
	ln, err := listen("127.0.0.1:" + port)
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()

	type logLine struct {
		Msg        string `json:"msg"`
		Accounts   int    `json:"accounts"`
		DurationMS int64  `json:"duration_ms"`
		Err        string `json:"err"`
	}
	done := make(chan logLine, 1)
	onLine := func(line string) {
		if !strings.Contains(line, `"sync done"`) && !strings.Contains(line, `"sync failed"`) {
			return
		}
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil {
			select {
			case done <- l:
			default:
			}
		}
	}
	p, err := startPortal(portalBin, portalPort, filepath.Join(dir, "portal-sync"), databaseURL, "http://"+ln.Addr().String(), sim.BankGUID, "1h", onLine)
	if err != nil {
		return err
	}
	defer p.stop()
	select {
	case l := <-done:
		if l.Msg != "sync done" {
			return fmt.Errorf("the sync failed: %s", l.Err)
		}
		rep.syncAccounts, rep.syncTime, rep.syncRequests = l.Accounts, time.Duration(l.DurationMS)*time.Millisecond, requests.Load()
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("no sync within 5 minutes:\n%s", p.output())
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
