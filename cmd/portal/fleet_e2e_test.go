package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/bankconnections/portal/internal/pgtest"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/platform/contract"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world"
	"github.com/bankconnections/portal/store"
)

// A fleet is several real portal processes in live mode on one database,
// sharing one session key, in front of one platform simulator and Plaid
// stand-in that run in the test process (real HTTP), where every platform
// request is recorded so effects can be counted where they happen.

// platformCall is one request the simulator answered.
type platformCall struct {
	method, path string
	query        url.Values
	status       int
	at           time.Time
}

// platformLog records every request the simulator answered.
type platformLog struct {
	mu    sync.Mutex
	calls []platformCall
	begun map[string]int // method and path of requests that arrived, answered or not
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// wrap records each request after the simulator (and its fault injection) answered it.
func (l *platformLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if l.begun == nil {
			l.begun = map[string]int{}
		}
		l.begun[r.Method+" "+r.URL.Path]++
		l.mu.Unlock()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 && r.Context().Err() == nil {
			rec.status = http.StatusOK // net/http answers 200 for a handler that wrote nothing
		} // else 0: held until the client gave up, no answer and no effect
		l.mu.Lock()
		l.calls = append(l.calls, platformCall{method: r.Method, path: r.URL.Path, query: r.URL.Query(), status: rec.status, at: time.Now()})
		l.mu.Unlock()
	})
}

// count is the number of recorded calls that match.
func (l *platformLog) count(match func(platformCall) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if match(c) {
			n++
		}
	}
	return n
}

// arrived counts the requests with this method and path that reached the
// simulator so far, including those it is still holding.
func (l *platformLog) arrived(method, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.begun[method+" "+path]
}

// patchesDone counts the successful PATCHes per account: the platform effect of a reconnect.
func (l *platformLog) patchesDone() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, c := range l.calls {
		if g, ok := strings.CutPrefix(c.path, "/api/external_bank_accounts/"); ok && c.method == http.MethodPatch && c.status/100 == 2 {
			out[g]++
		}
	}
	return out
}

// isSyncWalk tells whether a call began a walk of the bank's accounts (the
// sync's first page; a customer's own list names the customer).
func isSyncWalk(c platformCall) bool {
	return c.method == http.MethodGet && c.path == "/api/external_bank_accounts" && c.query.Get("bank_guid") != "" &&
		c.query.Get("customer_guid") == "" && c.query.Get("guid") == "" && (c.query.Get("page") == "" || c.query.Get("page") == "0")
}

// fleetInstance is one running portal process.
type fleetInstance struct {
	URL    string
	cmd    *exec.Cmd
	stderr *lockedWriter
	done   chan struct{}
}

// fleet is the simulators and the portals on one database.
type fleet struct {
	t           *testing.T
	world       *world.World
	platform    *platformLog
	sandbox     simplatform.Sandbox
	bank        *platform.Client
	databaseURL string // "" for SQLite in sharedDir
	sharedDir   string
	portals     []*fleetInstance
	interval    time.Duration
}

// startFleet starts the simulators and n portals on the database: a
// postgres:// URL, or "" for one SQLite file in a folder all share.
func startFleet(t *testing.T, n int, databaseURL string, interval time.Duration) *fleet {
	t.Helper()
	f := &fleet{t: t, platform: &platformLog{}, databaseURL: databaseURL, sharedDir: t.TempDir(), interval: interval}
	ports := make([]string, n)
	var redirects []string
	for i := range ports {
		ports[i] = freePort(t)
		redirects = append(redirects, "http://127.0.0.1:"+ports[i]+"/link/oauth-return")
	}
	w, err := world.New(context.Background(), world.Config{
		StandIn:      simplaid.Config{RefreshDelay: -1},
		Platform:     simplatform.Config{DataDir: t.TempDir(), StoringDelay: 50 * time.Millisecond, RedirectURIs: redirects},
		WrapPlatform: func(h http.Handler) http.Handler { return f.platform.wrap(contract.Middleware(t, h)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	f.world = w
	f.sandbox = simplatform.Sandbox{BaseURL: w.PlatformURL}
	f.bank = platform.New(platform.Config{BaseURL: w.PlatformURL, TokenURL: w.PlatformURL + "/oauth/token",
		ClientID: w.Platform.ClientID(), ClientSecret: w.Platform.ClientSecret()})
	// Every instance migrates the same database as it starts: all at once.
	var wg sync.WaitGroup
	f.portals = make([]*fleetInstance, n)
	for i := range f.portals {
		f.portals[i] = f.launch(ports[i])
	}
	for _, p := range f.portals {
		wg.Add(1)
		go func() { defer wg.Done(); p.waitReady() }()
	}
	wg.Wait()
	for i, p := range f.portals {
		if !p.ready() {
			t.Fatalf("portal %d did not answer /healthz within 90s; its log:\n%s", i, p.stderr.String())
		}
	}
	return f
}

// sessionKey is the one PORTAL_SESSION_KEY of the fleet (128 hex characters).
func (f *fleet) sessionKey() string { return strings.Repeat("5e", 64) }

// launch starts one portal process on port.
func (f *fleet) launch(port string) *fleetInstance {
	f.t.Helper()
	w := f.world
	dataDir := f.sharedDir
	if f.databaseURL != "" {
		dataDir = f.t.TempDir() // the database is elsewhere; the key comes from the environment
	}
	cmd := exec.Command(portalBinary(f.t), "-addr", "127.0.0.1:"+port, "-base-url", "http://127.0.0.1:"+port,
		"-data", dataDir, "-log-level", "debug", "-sync-interval", f.interval.String())
	cmd.Env = append(os.Environ(),
		"PLATFORM_URL="+w.PlatformURL, "PLATFORM_TOKEN_URL="+w.PlatformURL+"/oauth/token",
		"PLATFORM_CLIENT_ID="+w.Platform.ClientID(), "PLATFORM_CLIENT_SECRET="+w.Platform.ClientSecret(),
		"PLATFORM_BANK_GUID="+w.Platform.BankGUID(), "PORTAL_SESSION_KEY="+f.sessionKey(),
		"PORTAL_DATABASE_URL="+f.databaseURL)
	p := &fleetInstance{URL: "http://127.0.0.1:" + port, cmd: cmd, stderr: &lockedWriter{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, p.stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	f.t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *fleetInstance) ready() bool {
	res, err := http.Get(p.URL + "/healthz")
	if err != nil {
		return false
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// waitReady polls /healthz for up to 90 s (the machine may be busy).
func (p *fleetInstance) waitReady() {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && !p.ready() {
		select {
		case <-p.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill ends the process with SIGKILL: no shutdown, no flush, no lease given back.
func (p *fleetInstance) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// createUsers writes the fleet's users straight into the shared database,
// before or while the portals run (as `portal user create` would).
func (f *fleet) createUsers(users ...store.User) {
	f.t.Helper()
	ctx := context.Background()
	db, err := openFleetStore(ctx, f.databaseURL, f.sharedDir)
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	for _, u := range users {
		if _, err := db.CreateUser(ctx, u); err != nil {
			f.t.Fatalf("create %s: %v", u.Email, err)
		}
	}
}

// openFleetStore opens the fleet's database through the store, as the portal does.
func openFleetStore(ctx context.Context, databaseURL, dir string) (*store.DB, error) {
	if databaseURL != "" {
		return store.OpenPostgres(ctx, databaseURL)
	}
	return store.Open(ctx, filepath.Join(dir, "portal.db"))
}

// fleetInstitutions are the stand-in's institutions.
var fleetInstitutions = []string{"ins_109508", "ins_127287", "ins_128026", "ins_109510", "ins_109509", "ins_109511", "ins_109512"}

// linkedAccounts gives the customer n connections at the platform, each
// with an Item of its own at the Plaid stand-in (so Link can update it), as
// n finished Link sessions would.
func (f *fleet) linkedAccounts(customerGUID string, n int) []string {
	f.t.Helper()
	ctx := context.Background()
	var guids []string
	for i := range n {
		// Each of the stand-in's 7 institutions offers 2 accounts; the same
		// account twice for one owner would be refused as a duplicate.
		l, err := f.world.StandIn.SandboxLinkAccount(fleetInstitutions[i/2%len(fleetInstitutions)], i%2, "")
		if err != nil {
			f.t.Fatal(err)
		}
		a, err := f.bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: fmt.Sprintf("Fleet %d", i), AccountKind: "plaid",
			Asset: "USD", CustomerGUID: customerGUID, PlaidPublicToken: l.PublicToken, PlaidAccountID: l.AccountID})
		if err != nil {
			f.t.Fatal(err)
		}
		guids = append(guids, a.GUID)
	}
	poll(f.t, 60*time.Second, "the platform to store the accounts", func() bool {
		for _, g := range guids {
			if a, err := f.bank.GetExternalBankAccount(ctx, g, platform.GetAccountOptions{}); err != nil || a.State != "completed" {
				return false
			}
		}
		return true
	})
	return guids
}

// fleetClient is a browser without the browser: one cookie jar, used
// against any instance (cookies are per host, not per port, as behind one
// load balancer).
type fleetClient struct {
	c    *http.Client
	csrf string
}

func newFleetClient() *fleetClient {
	jar, _ := cookiejar.New(nil)
	return &fleetClient{c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

// signInAt signs in through one instance.
func (f *fleet) signInAt(i int, email, password string) *fleetClient {
	f.t.Helper()
	c := newFleetClient()
	res, body := formPost(f.t, c.c, f.portals[i].URL, "/login", "/login", url.Values{"email": {email}, "password": {password}})
	if res.Request.URL.Path == "/login" {
		f.t.Fatalf("sign in as %s through portal %d failed (%d)", email, i, res.StatusCode)
	}
	if c.csrf = metaCSRF(f.t, body); c.csrf == "" {
		f.t.Fatalf("no CSRF token after signing in through portal %d", i)
	}
	return c
}

// page gets a page; it returns where the client ended up and the body.
func (c *fleetClient) page(base, path string) (string, string, error) {
	res, err := c.c.Get(base + path)
	if err != nil {
		return "", "", err
	}
	body, err := readBody(res)
	if res.StatusCode != http.StatusOK {
		return res.Request.URL.Path, body, fmt.Errorf("GET %s: %d", path, res.StatusCode)
	}
	return res.Request.URL.Path, body, err
}

// signedInAt tells whether the client's session opens the accounts page on base.
func (c *fleetClient) signedInAt(base string) bool {
	at, _, err := c.page(base, "/accounts")
	return err == nil && at == "/accounts"
}

// send posts JSON with the CSRF header and decodes the JSON answer; safe
// from any goroutine (it reports errors instead of failing the test).
func (c *fleetClient) send(method, base, path string, body string) (int, map[string]any, error) {
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	res, err := c.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out := map[string]any{}
	b, _ := io.ReadAll(res.Body)
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			return res.StatusCode, nil, err
		}
	}
	return res.StatusCode, out, nil
}

// rows reads the accounts page through base: state per connection, and which are finishing.
func (f *fleet) rows(c *fleetClient, base string) (map[string]string, map[string]bool) {
	f.t.Helper()
	_, body, err := c.page(base, "/accounts")
	if err != nil {
		f.t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range accountRows(f.t, body) {
		states[r.guid] = r.state
	}
	finishing := map[string]bool{}
	parseHTML(f.t, body).Find(`[data-testid="account-row"]`).Each(func(_ int, s *goquery.Selection) {
		if s.Find(`[data-testid="finishing"]`).Length() > 0 {
			finishing[s.AttrOr("data-guid", "")] = true
		}
	})
	return states, finishing
}

// startReconnect starts Link in update mode for guid through base and waits
// until its link token is ready; it returns the link session's id.
func startReconnect(c *fleetClient, base, guid string) (string, error) {
	return startLink(c, base, guid, `{"mode":"update","account_guid":"`+guid+`"}`)
}

// startLink starts a Link session through base and waits until its link
// token is ready; it returns the link session's id.
func startLink(c *fleetClient, base, guid, body string) (string, error) {
	status, ls, err := c.send(http.MethodPost, base, "/link/sessions", body)
	if err != nil || status != http.StatusCreated {
		return "", fmt.Errorf("start Link (%s): %d %v %v", body, status, ls, err)
	}
	id, _ := ls["id"].(string)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		status, got, err := c.send(http.MethodGet, base, "/link/sessions/"+id, "")
		if err != nil {
			return "", err
		}
		if status == http.StatusOK && got["state"] == "ready" && got["link_token"] != "" {
			return id, nil
		}
		if status != http.StatusOK || (got["state"] != "pending" && got["state"] != "ready") {
			return "", fmt.Errorf("link session of %s: %d %v", guid, status, got)
		}
		time.Sleep(100 * time.Millisecond) // the pace of a page polling for its token
	}
	return "", fmt.Errorf("no link token for %s within 60s", guid)
}

// completeCreate posts Link's onSuccess of a new account: the public token
// of an Item sharing one account, and that account.
func completeCreate(c *fleetClient, base, session, institutionID string, l simplaid.SandboxLinked) (int, map[string]any, error) {
	b, _ := json.Marshal(map[string]any{"public_token": l.PublicToken, "metadata": map[string]any{
		"institution": map[string]string{"institution_id": institutionID, "name": institutionID},
		"accounts":    []map[string]string{{"id": l.AccountID, "name": l.AccountName, "mask": l.AccountMask, "type": "depository"}},
	}})
	return c.send(http.MethodPost, base, "/link/sessions/"+session+"/complete", string(b))
}

// completeReconnect posts Link's onSuccess of an update (no token to exchange).
func completeReconnect(c *fleetClient, base, session string) (int, map[string]any, error) {
	return c.send(http.MethodPost, base, "/link/sessions/"+session+"/complete", `{"public_token":"","metadata":{"accounts":[]}}`)
}

// doneLogs counts, across the instances' logs, the "link completion done" records per completion id.
func (f *fleet) doneLogs() map[float64]int {
	out := map[float64]int{}
	for _, p := range f.portals {
		for _, rec := range logLines(p.stderr.String(), "link completion done") {
			if id, ok := rec["completion"].(float64); ok {
				out[id]++
			}
		}
	}
	return out
}

// logsAbout gives every instance's log records that name guid, for a failure message.
func (f *fleet) logsAbout(guid string) string {
	keys := []string{guid}
	for _, p := range f.portals {
		for _, rec := range logLines(p.stderr.String(), "link completion done") {
			if rec["account"] == guid {
				keys = append(keys, fmt.Sprintf(`"completion":%v,`, rec["completion"]))
			}
		}
	}
	var b strings.Builder
	for i, p := range f.portals {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			for _, k := range keys {
				if strings.Contains(line, k) {
					fmt.Fprintf(&b, "  portal %d: %s\n", i, line)
					break
				}
			}
		}
	}
	return b.String()
}

// fleetDatabase is the database of a fleet test: a fresh PostgreSQL database
// (skipped without PORTAL_TEST_DATABASE_URL), or, with PORTAL_FLEET_SQLITE=1,
// one SQLite file shared by the processes (SQLite allows that; it is how
// the harness was first tried).
func fleetDatabase(t *testing.T) string {
	t.Helper()
	if os.Getenv("PORTAL_FLEET_SQLITE") == "1" {
		return ""
	}
	return pgtest.URL(t)
}

// fleetCustomer is a customer of the fleet test, signed in.
type fleetCustomer struct {
	email, password string
	guids           []string // expired connections at the start
	c               *fleetClient
}

// TestFleetOfThreePortals runs three real portal processes on one database
// with one session key in front of one platform simulator, and checks what
// must hold when more than one process shares the work.
func TestFleetOfThreePortals(t *testing.T) {
	const interval = 2 * time.Second
	f := startFleet(t, 3, fleetDatabase(t), interval)
	ctx := context.Background()

	// Four customers with 14 expired connections each at the platform (as
	// many as the stand-in's institutions offer one owner): 50 for the
	// concurrent completions, 6 for the crash.
	var customers []*fleetCustomer
	var users []store.User
	for i := range 4 {
		cust, err := f.bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: "individual", FirstName: "Fleet", LastName: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		fc := &fleetCustomer{email: fmt.Sprintf("fleet%d@example.com", i), password: fmt.Sprintf("fleet-password-%d", i)}
		fc.guids = f.linkedAccounts(cust.GUID, 14)
		for _, g := range fc.guids {
			if err := f.sandbox.PinState(ctx, g, "refresh_required", ""); err != nil {
				t.Fatal(err)
			}
		}
		u, err := newUser(fc.email, fc.password, store.RoleCustomer, cust.GUID)
		if err != nil {
			t.Fatal(err)
		}
		customers, users = append(customers, fc), append(users, u)
	}
	// A fifth customer links 10 new accounts in the same burst.
	newcomerCust, err := f.bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: "individual", FirstName: "Fleet", LastName: "Newcomer"})
	if err != nil {
		t.Fatal(err)
	}
	newcomer := &fleetCustomer{email: "fleet-new@example.com", password: "fleet-password-new"}
	u, err := newUser(newcomer.email, newcomer.password, store.RoleCustomer, newcomerCust.GUID)
	if err != nil {
		t.Fatal(err)
	}
	f.createUsers(append(users, u)...)
	newcomer.c = f.signInAt(2, newcomer.email, newcomer.password)
	type target struct {
		guid string
		who  *fleetCustomer
	}
	var targets []target
	for i, fc := range customers {
		fc.c = f.signInAt(i%3, fc.email, fc.password)
		poll(t, 90*time.Second, "the fleet to sync the expired connections of "+fc.email, func() bool {
			states, _ := f.rows(fc.c, f.portals[(i+1)%3].URL)
			for _, g := range fc.guids {
				if states[g] != "refresh_required" {
					return false
				}
			}
			return true
		})
		for _, g := range fc.guids {
			targets = append(targets, target{g, fc})
		}
	}
	concurrent, crashed := targets[:50], targets[50:]
	setUp := time.Now()

	t.Run("the periodic sync walks the platform once per interval", func(t *testing.T) {
		start := time.Now()
		const want = 6
		poll(t, 120*time.Second, "sync walks", func() bool {
			return f.platform.count(func(c platformCall) bool { return isSyncWalk(c) && !c.at.Before(start) }) >= want
		})
		elapsed := time.Since(start)
		walks := f.platform.count(func(c platformCall) bool {
			return isSyncWalk(c) && !c.at.Before(start) && c.at.Before(start.Add(elapsed))
		})
		// One instance per interval: about one walk begins per interval of
		// the window (plus one at each edge, and a walk's first request may
		// arrive a little late on a busy machine); three instances each
		// walking on their own would make about three times as many.
		limit := int(elapsed/interval) + 2
		if walks > limit {
			t.Errorf("sync walks in %s with a %s interval across 3 instances: got %d, want at most %d (one per interval)", elapsed.Round(time.Millisecond), interval, walks, limit)
		}
		t.Logf("sync: %d walks of the platform in %s (interval %s, 3 instances)", walks, elapsed.Round(time.Millisecond), interval)
	})

	t.Run("60 concurrent completions across the instances: one platform effect each", func(t *testing.T) {
		// 50 reconnects (one PATCH each) and 10 new accounts (one POST each).
		const creates = 10
		sessions := make([]string, len(concurrent))
		errs := make([]error, len(concurrent)+creates)
		var wg sync.WaitGroup
		for i, tg := range concurrent {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sessions[i], errs[i] = startReconnect(tg.who.c, f.portals[i%3].URL, tg.guid)
			}()
		}
		createSessions := make([]string, creates)
		items := make([]simplaid.SandboxLinked, creates)
		for i := range creates {
			if items[i], err = f.world.StandIn.SandboxLinkAccount(fleetInstitutions[i/2], i%2, ""); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				createSessions[i], errs[len(concurrent)+i] = startLink(newcomer.c, f.portals[i%3].URL, "new", `{"mode":"create"}`)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Every onSuccess arrives at all three instances at once (a retried
		// request behind the load balancer, a second tab): 150 requests.
		gate := make(chan struct{})
		type answer struct {
			status int
			body   map[string]any
			err    error
		}
		answers := make([][3]answer, len(sessions))
		for i, s := range sessions {
			for k := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					st, b, err := completeReconnect(concurrent[i].who.c, f.portals[(i+k)%3].URL, s)
					answers[i][k] = answer{st, b, err}
				}()
			}
		}
		createAnswers := make([][3]answer, creates)
		for i, s := range createSessions {
			for k := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					st, b, err := completeCreate(newcomer.c, f.portals[(i+k)%3].URL, s, fleetInstitutions[i/2], items[i])
					createAnswers[i][k] = answer{st, b, err}
				}()
			}
		}
		close(gate)
		wg.Wait()
		for i, as := range createAnswers {
			for k, a := range as {
				if a.err != nil || a.status != http.StatusOK {
					t.Errorf("new account %d through portal %d: got %d %v %v, want 200", i, (i+k)%3, a.status, a.body, a.err)
				}
			}
		}
		for i, as := range answers {
			for k, a := range as {
				if a.err != nil || a.status != http.StatusOK {
					t.Errorf("completion of %s through portal %d: got %d %v %v, want 200", concurrent[i].guid, (i+k)%3, a.status, a.body, a.err)
				}
			}
		}
		poll(t, 120*time.Second, "every completion to finish", func() bool {
			patched := f.platform.patchesDone()
			for _, fc := range customers {
				states, finishing := f.rows(fc.c, f.portals[2].URL)
				for _, tg := range concurrent {
					if tg.who == fc && (finishing[tg.guid] || states[tg.guid] == "refresh_required" || patched[tg.guid] == 0) {
						return false
					}
				}
			}
			return true
		})
		patched := f.platform.patchesDone()
		for _, tg := range concurrent {
			if patched[tg.guid] != 1 {
				t.Errorf("successful PATCHes of %s: got %d, want exactly 1; the instances' log of it:\n%s", tg.guid, patched[tg.guid], f.logsAbout(tg.guid))
			}
		}
		// Each new account POSTed once: a second POST of the same Plaid
		// account would also answer 201 (as a failed duplicate).
		if n := f.platform.count(func(c platformCall) bool {
			return c.method == http.MethodPost && c.path == "/api/external_bank_accounts" && c.at.After(setUp) && c.status/100 == 2
		}); n != creates {
			t.Errorf("accounts created: got %d, want %d (one per new account, none by reconnects)", n, creates)
		}
		poll(t, 120*time.Second, "the new accounts to be connected", func() bool {
			states, finishing := f.rows(newcomer.c, f.portals[0].URL)
			n := 0
			for g, st := range states {
				if finishing[g] || st == "storing" {
					return false
				}
				if st == "completed" {
					n++
				}
			}
			return n == creates
		})
		done := f.doneLogs()
		if len(done) != len(concurrent)+creates {
			t.Errorf("completions done across the instances: got %d, want %d", len(done), len(concurrent)+creates)
		}
		for id, n := range done {
			if n != 1 {
				t.Errorf("completion %v finished %d times across the instances, want once", id, n)
			}
		}
	})

	t.Run("kill -9 of the instance holding queued completions", func(t *testing.T) {
		victim := f.portals[0]
		sessions := make([]string, len(crashed))
		clients := make([]*fleetClient, len(crashed))
		for i, tg := range crashed {
			clients[i] = f.signInAt(0, tg.who.email, tg.who.password)
			var err error
			if sessions[i], err = startReconnect(clients[i], victim.URL, tg.guid); err != nil {
				t.Fatal(err)
			}
		}
		// The platform refuses the PATCHes of half of them and holds those of
		// the others without an answer. The refused ones are recorded and
		// queued at the victim; the held ones are recorded and claimed by it,
		// their PATCH in flight, when it dies.
		var faults []simplatform.Fault
		held, refused := crashed[:len(crashed)/2], crashed[len(crashed)/2:]
		for i, tg := range crashed {
			ft := simplatform.Fault{Method: http.MethodPatch, PathPrefix: "/api/external_bank_accounts/" + tg.guid, Status: http.StatusInternalServerError}
			if i < len(held) {
				ft = simplatform.Fault{Method: http.MethodPatch, PathPrefix: "/api/external_bank_accounts/" + tg.guid, Timeout: true}
			}
			faults = append(faults, ft)
		}
		if err := f.sandbox.SetFaults(ctx, faults); err != nil {
			t.Fatal(err)
		}
		before := len(f.doneLogs())
		for i, tg := range refused {
			k := len(held) + i
			status, res, err := completeReconnect(clients[k], victim.URL, sessions[k])
			if err != nil || status != http.StatusOK || res["status"] != "finishing" {
				t.Fatalf("complete %s during the fault: got %d %v %v, want finishing", tg.guid, status, res, err)
			}
		}
		var wg sync.WaitGroup
		for i := range held {
			wg.Add(1)
			go func() {
				defer wg.Done()
				completeReconnect(clients[i], victim.URL, sessions[i]) // no answer: the victim dies first
			}()
		}
		poll(t, 60*time.Second, "the victim's PATCHes of the held reconnects", func() bool {
			for _, tg := range held {
				if f.platform.arrived(http.MethodPatch, "/api/external_bank_accounts/"+tg.guid) < 1 {
					return false
				}
			}
			return true
		})
		victim.kill(t)
		wg.Wait()
		if err := f.sandbox.ClearFaults(ctx); err != nil {
			t.Fatal(err)
		}
		survivor := f.portals[1].URL
		poll(t, 240*time.Second, "the other instances to finish the dead one's completions", func() bool {
			patched := f.platform.patchesDone()
			for i, tg := range crashed {
				_, finishing := f.rows(clients[i], survivor)
				if finishing[tg.guid] || patched[tg.guid] == 0 {
					return false
				}
			}
			return true
		})
		patched := f.platform.patchesDone()
		for _, tg := range crashed {
			if patched[tg.guid] != 1 {
				t.Errorf("successful PATCHes of %s after the crash: got %d, want exactly 1", tg.guid, patched[tg.guid])
			}
		}
		done := f.doneLogs()
		if len(done) != before+len(crashed) {
			t.Errorf("completions done across the instances: got %d, want %d", len(done), before+len(crashed))
		}
		for id, n := range done {
			if n != 1 {
				t.Errorf("completion %v finished %d times across the instances, want once", id, n)
			}
		}
	})
	live := f.portals[1:] // portal 0 was killed
	fc := customers[3]

	t.Run("a write through one instance is seen on the next page view through another", func(t *testing.T) {
		// The bank login of one connection expires: the sync raises a banner.
		if err := f.sandbox.PinState(ctx, fc.guids[0], "refresh_required", ""); err != nil {
			t.Fatal(err)
		}
		c := f.signInAt(1, fc.email, fc.password)
		var page, action string
		poll(t, 60*time.Second, "a banner for the expired connection", func() bool {
			var err error
			// The other instance has the page in its cache now.
			if _, page, err = c.page(live[1].URL, "/accounts"); err != nil {
				t.Fatal(err)
			}
			action = parseHTML(t, page).Find(`[data-testid="banner"] form`).First().AttrOr("action", "")
			return action != ""
		})
		res, err := c.c.PostForm(live[0].URL+action, url.Values{"_csrf": {formCSRF(t, page)}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("dismiss through portal 1: got %d", res.StatusCode)
		}
		_, page, err = c.page(live[1].URL, "/accounts")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(page, `action="`+action+`"`) {
			t.Errorf("the banner dismissed through portal 1 (%s) still shows on the next view through portal 2", action)
		}
	})

	t.Run("a password change on one instance signs the user out on all", func(t *testing.T) {
		changer := f.signInAt(1, fc.email, fc.password)
		other := f.signInAt(2, fc.email, fc.password)
		for _, p := range live {
			if !other.signedInAt(p.URL) || !changer.signedInAt(p.URL) { // in every instance's cache now
				t.Fatalf("not signed in through %s", p.URL)
			}
		}
		_, page, err := changer.page(live[0].URL, "/account/password")
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"_csrf": {formCSRF(t, page)}, "current_password": {fc.password},
			"new_password": {"a new fleet password"}, "confirm_password": {"a new fleet password"}}
		res, err := changer.c.PostForm(live[0].URL+"/account/password", form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := readBody(res)
		if !strings.Contains(body, `data-testid="password-changed"`) {
			t.Fatalf("password change through portal 1: got %d at %s, want the page saying it changed", res.StatusCode, res.Request.URL.Path)
		}
		for _, p := range live {
			if other.signedInAt(p.URL) {
				t.Errorf("the other session still opens /accounts through %s, want a redirect to sign-in", p.URL)
			}
			if !changer.signedInAt(p.URL) {
				t.Errorf("the session that changed the password was signed out through %s", p.URL)
			}
		}
		f.signInAt(2, fc.email, "a new fleet password")
	})
}
