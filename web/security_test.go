package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world/worldtest"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

// The security suite runs the whole stack (web, handlers, connections, the
// real store) against the platform simulator and the Plaid stand-in, so every
// status below is what a person would really get.

// countingTransport counts the requests the portal sends to the platform.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// owner is what a role's own path parameters resolve to.
type owner struct {
	account, linkSession, note string
}

type world struct {
	*app
	svc      *connections.Service
	calls    *countingTransport
	sandbox  simplatform.Sandbox
	users    map[string]store.User
	pass     map[string]string
	owners   map[string]owner
	spare    map[string][]string // more refresh_required accounts per owner, for actions that change one
	spareMu  sync.Mutex
	bankGUID string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sims := worldtest.New(t, worldtest.Options{})
	plaid, sim, platURL := sims.StandIn, sims.Platform, sims.PlatformURL

	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	calls := &countingTransport{base: http.DefaultTransport}
	bank := platform.New(platform.Config{BaseURL: platURL, TokenURL: platURL + "/oauth/token", ClientID: sim.ClientID(),
		ClientSecret: sim.ClientSecret(), RetryBase: 10 * time.Millisecond, HTTPClient: &http.Client{Transport: calls, Timeout: 30 * time.Second}})
	svc := connections.New(log, db, bank, connections.Config{BankGUID: sim.BankGUID(), SyncInterval: time.Hour,
		RedirectURI: "http://portal.test/link/oauth-return"})
	w := &world{svc: svc, calls: calls, sandbox: sims.Sandbox(), bankGUID: sim.BankGUID(),
		users: map[string]store.User{}, pass: map[string]string{}, owners: map[string]owner{}, spare: map[string][]string{}}

	for _, u := range []struct{ role, email, pass, kind, institution string }{
		{"alice", "alice@example.com", "demo-alice", store.RoleCustomer, "ins_109508"},
		{"bob", "bob@example.com", "demo-bob", store.RoleCustomer, "ins_109509"},
		{"admin", "admin@example.com", "demo-admin", store.RoleAdmin, "ins_109510"},
	} {
		cust := ""
		if u.kind == store.RoleCustomer {
			c, err := bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: platform.CustomerTypeIndividual, FirstName: u.role, LastName: "Test"})
			if err != nil {
				t.Fatal(err)
			}
			cust = c.GUID
		}
		h, _ := bcrypt.GenerateFromPassword([]byte(u.pass), bcrypt.MinCost)
		usr, err := db.CreateUser(ctx, store.User{Email: u.email, PasswordHash: string(h), Role: u.kind, CustomerGUID: cust})
		if err != nil {
			t.Fatal(err)
		}
		w.users[u.role], w.pass[u.role] = usr, u.pass
		// Expired connections: the admin's are the organization's own. The
		// first is linked through Plaid (Link can update it); the spares are seeded.
		var custPtr *string
		if cust != "" {
			custPtr = &cust
		}
		w.owners[u.role] = owner{account: linkExpired(t, plaid, bank, cust, u.institution)}
		guids, err := w.sandbox.SeedAccounts(ctx, simplatform.SeedRequest{CustomerGUID: custPtr, Count: 40, State: "refresh_required", InstitutionID: "ins_128026"})
		if err != nil {
			t.Fatal(err)
		}
		w.spare[u.role] = guids
	}
	if err := svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"alice", "bob", "admin"} {
		o := w.owners[role]
		u := w.users[role]
		ls, err := svc.StartLink(ctx, u, connections.ModeUpdate, o.account)
		if err != nil {
			t.Fatalf("start link for %s: %v", role, err)
		}
		testutil.Eventually(t, 15*time.Second, func() error {
			if ls.State == store.LinkReady {
				return nil
			}
			if ls.State != store.LinkPending {
				t.Fatalf("link session of %s: got %s (%s), want ready", role, ls.State, ls.Message)
			}
			if ls, err = svc.LinkSession(ctx, u, ls.ID); err != nil {
				t.Fatal(err)
			}
			return fmt.Errorf("link session of %s: no token yet", role)
		})
		o.linkSession = ls.ID
		if u.CustomerGUID != "" {
			id, err := db.AddNotification(ctx, store.Notification{CustomerGUID: u.CustomerGUID, AccountGUID: o.account, Kind: "refresh_required", Message: "Reconnect " + role})
			if err != nil {
				t.Fatal(err)
			}
			o.note = fmt.Sprint(id)
		} else {
			o.note = "1" // admins have no banners; any id
		}
		w.owners[role] = o
	}

	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	sessions := web.NewSessions(db, make([]byte, 32), make([]byte, 32), false)
	h := handlers.New(log, handlers.Deps{Store: db, Sessions: sessions, Assets: assets, Syncer: svc, Links: svc, Ready: bank,
		Admin: connections.NewAdmin(svc, nil, connections.AdminConfig{}), Transfers: connections.NewTransfers(svc, connections.TransferConfig{})}, handlers.Options{LinkEnabled: true})
	e := web.New(web.Config{Log: log, Store: db, Assets: assets, Handler: h, Sessions: sessions, PlaidOrigin: sims.StandInURL})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	w.app = &app{t: t, srv: srv, db: db}
	return w
}

// sandboxLinker is the Plaid stand-in's shortcut for a finished Link session.
type sandboxLinker interface {
	SandboxLink(institutionID, webhook string) (simplaid.SandboxLinked, error)
}

// linkExpired links an account through the Plaid stand-in and the platform,
// waits until it is stored, and expires its login.
func linkExpired(t *testing.T, plaid *simplaid.Server, bank *platform.Client, customerGUID, institutionID string) string {
	t.Helper()
	ctx := context.Background()
	l, err := any(plaid).(sandboxLinker).SandboxLink(institutionID, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: l.AccountName, AccountKind: platform.AccountKindPlaid,
		Asset: "USD", CustomerGUID: customerGUID, PlaidPublicToken: l.PublicToken, PlaidAccountID: l.AccountID})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, func() error {
		if a.State != rules.Storing {
			return nil
		}
		if a, err = bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{}); err != nil {
			t.Fatal(err)
		}
		return errors.New("account still storing")
	})
	if a.State != rules.Completed {
		t.Fatalf("linked account: got state %s (%v), want completed", a.State, a.FailureCode)
	}
	if _, err := bank.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.RefreshRequired}); err != nil {
		t.Fatal(err)
	}
	return a.GUID
}

// spareAccount hands out a fresh expired connection of an owner, so an action
// that changes a connection does not change what the next case sees.
func (w *world) spareAccount(t *testing.T, role string) string {
	t.Helper()
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	if len(w.spare[role]) == 0 {
		t.Fatalf("no spare connection left for %s", role)
	}
	g := w.spare[role][0]
	w.spare[role] = w.spare[role][1:]
	return g
}

// as returns a client signed in as role ("anonymous" stays signed out).
func (w *world) as(t *testing.T, role string) *client {
	t.Helper()
	c := w.client()
	c.t = t
	if role != "anonymous" {
		if r := c.login(w.users[role].Email, w.pass[role]); r.status != http.StatusSeeOther {
			t.Fatalf("sign in as %s: got %d", role, r.status)
		}
	}
	return c
}

// routeKey names a route of the table.
func routeKey(r web.Route) string { return r.Method + " " + r.Path }

// The cases of the matrix: each role with its own parameters, and three who
// reach for someone else's (alice for bob's, bob for alice's, the admin for a
// customer's).
var matrixCases = []struct{ name, role, params string }{
	{"anonymous", "anonymous", "alice"},
	{"alice", "alice", "alice"},
	{"bob", "bob", "bob"},
	{"admin", "admin", "admin"},
	{"alice→bob", "alice", "bob"},
	{"bob→alice", "bob", "alice"},
	{"admin→alice", "admin", "alice"},
}

// statuses is one route's expected status per case of matrixCases. A route
// without parameters runs only the cases with their own parameters; the
// others' statuses are then not asked.
type statuses map[string]int

// everyone answers alike whoever asks.
func everyone(status int) statuses {
	return statuses{"anonymous": status, "alice": status, "bob": status, "admin": status,
		"alice→bob": status, "bob→alice": status, "admin→alice": status}
}

// signedIn is for every signed-in user, the admin too: anonymous gets anon,
// each user own with their own ids, and 404 with someone else's.
func signedIn(anon, own int) statuses {
	return statuses{"anonymous": anon, "alice": own, "bob": own, "admin": own,
		"alice→bob": 404, "bob→alice": 404, "admin→alice": 404}
}

// customers is for customers only: as signedIn, but the admin, who has no
// customer of its own, gets 404.
func customers(anon, own int) statuses {
	s := signedIn(anon, own)
	s["admin"] = 404
	return s
}

// admins is for admins only: customers are refused (403) whatever ids they
// send; the admin gets own, with its own ids and with a customer's alike
// unless onCustomers says otherwise.
func admins(anon, own int) statuses {
	return statuses{"anonymous": anon, "alice": 403, "bob": 403, "admin": own,
		"alice→bob": 403, "bob→alice": 403, "admin→alice": own}
}

// onCustomers sets what the admin gets with a customer's ids.
func (s statuses) onCustomers(status int) statuses {
	s["admin→alice"] = status
	return s
}

// expected is every route's status per case. A route missing here fails the
// test: whoever adds a route decides who may use it.
var expected = map[string]map[string]int{
	"GET /healthz": everyone(200),
	"GET /readyz":  everyone(200),
	"GET /":        everyone(303),
	"POST /login":  everyone(303),
	"GET /login":   signedIn(200, 303),
	"POST /logout": signedIn(401, 303),
	// The matrix sends an empty form: every signed-in user gets the form back with a message.
	"GET /account/password":           signedIn(303, 200),
	"POST /account/password":          signedIn(401, 422),
	"GET /accounts":                   customers(303, 200),
	"GET /accounts/:guid":             customers(303, 200),
	"POST /notifications/:id/dismiss": customers(401, 303),
	// Hiding is for disconnected connections only: the owners' are live, so 409.
	"POST /accounts/:guid/hide": customers(401, 409),
	// The question only exists after an update left the account unselected: no such session here.
	"GET /link/:id/review":              signedIn(303, 404),
	"POST /link/:id/review":             signedIn(401, 404),
	"POST /link/sessions":               signedIn(401, 201),
	"GET /link/sessions/:id":            signedIn(401, 200),
	"POST /link/sessions/:id/callbacks": signedIn(401, 200),
	"POST /link/sessions/:id/complete":  signedIn(401, 200),
	"GET /link/oauth-return":            signedIn(303, 200),
	// Money movement: the owners' connections are expired, so a quote or a
	// confirm is refused (409) before the platform is asked.
	"POST /accounts/:guid/transfers":               customers(401, 409),
	"GET /transfers/:key":                          customers(303, 200),
	"POST /transfers/:key/confirm":                 customers(401, 409),
	"GET /admin":                                   admins(303, 303),
	"GET /admin/connections":                       admins(303, 200),
	"GET /admin/connections/:guid":                 admins(303, 200),
	"GET /admin/connections/:guid/confirm/:action": admins(303, 200),
	// The admin's own connections are the organization's, with no customer to remind (409); a customer's gets its reminder.
	"POST /admin/connections/:guid/remind":     admins(401, 409).onCustomers(303),
	"POST /admin/connections/:guid/disconnect": admins(401, 303),
	"POST /admin/connections/:guid/refresh":    admins(401, 303),
	// The spare connections are expired already: expiring them again is refused (409).
	"POST /admin/connections/:guid/force-refresh-required": admins(401, 409),
	// A customer's Link session is not one the admin reviews.
	"GET /admin/link/:id/review":  admins(303, 200).onCustomers(404),
	"POST /admin/link/:id/review": admins(401, 303).onCustomers(404),
	"GET /admin/notifications":    admins(303, 200),
	// The Demo controls exist only in demo mode; this world is live.
	"POST /demo/switch":   everyone(404),
	"POST /demo/expire":   everyone(404),
	"POST /demo/webhook":  everyone(404),
	"POST /demo/platform": everyone(404),
	"POST /demo/reset":    everyone(404),
	"POST /demo/tour":     everyone(404),
}

// changesAccount lists the routes that change the connection they name: each
// case gets a connection of its own.
var changesAccount = map[string]bool{
	"POST /admin/connections/:guid/remind":                 true,
	"POST /admin/connections/:guid/disconnect":             true,
	"POST /admin/connections/:guid/force-refresh-required": true,
	"POST /admin/connections/:guid/refresh":                true,
	"POST /accounts/:guid/transfers":                       true, // an expired one, whatever Link did to the first
}

// request builds a valid request for a route with an owner's parameters.
func (w *world) request(t *testing.T, r web.Route, paramsOf string) (path string, ct string, body string) {
	t.Helper()
	o := w.owners[paramsOf]
	account := o.account
	if changesAccount[routeKey(r)] {
		account = w.spareAccount(t, paramsOf)
	}
	var segs []string
	for _, seg := range strings.Split(r.Path, "/") {
		switch {
		case seg == ":guid":
			seg = account
		case seg == ":id" && strings.HasPrefix(r.Path, "/notifications/"):
			seg = o.note
		case seg == ":id":
			seg = o.linkSession
		case seg == ":action":
			seg = "remind"
		case seg == ":key":
			seg = w.quotedTransfer(t, paramsOf)
		case strings.HasPrefix(seg, ":"):
			t.Fatalf("%s: no value for parameter %s: teach the security matrix how to build it", routeKey(r), seg)
		}
		segs = append(segs, seg)
	}
	path = strings.Join(segs, "/")
	switch routeKey(r) {
	case "POST /login":
		role := paramsOf
		return path, "form", url.Values{"email": {w.users[role].Email}, "password": {w.pass[role]}}.Encode()
	case "POST /link/sessions":
		return path, "json", fmt.Sprintf(`{"mode":"update","account_guid":%q}`, w.spareAccount(t, paramsOf))
	case "GET /link/sessions/:id":
		return path, "json", ""
	case "POST /link/sessions/:id/callbacks":
		return path, "json", `{"kind":"event","name":"OPEN","metadata":{"view_name":"CONSENT"}}`
	case "POST /link/sessions/:id/complete":
		return path, "json", `{"public_token":"","metadata":{"accounts":[]}}`
	}
	return path, "form", ""
}

// send makes the request as a browser page (forms) or the Link glue (JSON) would.
func (c *client) send(method, path, ct, body string, hdr map[string]string) resp {
	c.t.Helper()
	h := map[string]string{}
	if method != http.MethodGet {
		h["X-CSRF-Token"] = c.token()
	}
	if ct == "json" {
		h["Accept"] = "application/json"
	}
	var rd io.Reader
	if method != http.MethodGet {
		rd = strings.NewReader(body)
		if ct == "json" {
			h["Content-Type"], h["Accept"] = "application/json", "application/json"
		} else {
			h["Content-Type"] = "application/x-www-form-urlencoded"
		}
	}
	for k, v := range hdr {
		h[k] = v
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: string(b), header: res.Header}
}

func hasParams(r web.Route) bool { return strings.Contains(r.Path, ":") }

// TestAuthorizationMatrix checks every route of the table for every role, and
// each parametrised route also for a user reaching for someone else's data.
func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t)
	routes := web.Routes()
	seen := map[string]bool{}
	checked := 0
	for _, r := range routes {
		key := routeKey(r)
		seen[key] = true
		want, ok := expected[key]
		if !ok {
			t.Errorf("route %s is not in the authorization matrix: add its expected status per role to expected in web/security_test.go", key)
			continue
		}
		for _, tc := range matrixCases {
			if !hasParams(r) && tc.role != tc.params && tc.role != "anonymous" {
				continue
			}
			status, ok := want[tc.name]
			if !ok {
				t.Errorf("%s: no expected status for %s", key, tc.name)
				continue
			}
			t.Run(key+"/"+tc.name, func(t *testing.T) {
				c := w.as(t, tc.role)
				path, ct, body := w.request(t, r, tc.params)
				got := c.send(r.Method, path, ct, body, nil)
				if got.status != status {
					t.Errorf("%s %s as %s: got %d, want %d; body %.300q", r.Method, path, tc.name, got.status, status, got.body)
				}
				checkHeaders(t, got)
				if got.status == http.StatusNotFound || got.status == http.StatusForbidden {
					other := w.owners[tc.params]
					if tc.role != tc.params && strings.Contains(got.body, other.account) {
						t.Errorf("the refusal names the other owner's connection")
					}
				}
			})
			checked++
		}
	}
	for key := range expected {
		if !seen[key] {
			t.Errorf("the matrix lists %s, which is not in web.Routes(): remove it", key)
		}
	}
	// Everything else under /admin is refused before revealing whether it exists.
	for role, want := range map[string]int{"anonymous": 303, "alice": 403, "bob": 403, "admin": 404} {
		if got := w.as(t, role).get("/admin/no-such-page"); got.status != want {
			t.Errorf("/admin/no-such-page as %s: got %d, want %d", role, got.status, want)
		}
	}
	t.Logf("authorization matrix: %d routes, %d route×role requests", len(routes), checked)
}

// checkHeaders asserts the security headers every response carries.
func checkHeaders(t *testing.T, r resp) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-eval", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q allows %s", csp, bad)
		}
	}
	checkNoInline(t, csp)
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: got %q, want %q", h, got, want)
		}
	}
}

// stateChanging lists the routes that are not GET.
func stateChanging() []web.Route {
	var out []web.Route
	for _, r := range web.Routes() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r)
		}
	}
	return out
}

// paramsFor is whose parameters a role uses: its own (alice's for anonymous).
func paramsFor(role string) string {
	if role == "anonymous" {
		return "alice"
	}
	return role
}

// hasInlineScript tells whether a page has a script element without src.
func hasInlineScript(t *testing.T, body string) bool {
	t.Helper()
	return parse(t, body).Find("script:not([src])").Length() > 0
}

// roleFor picks who may use a route, so a refusal is about CSRF only.
func roleFor(r web.Route) string {
	switch r.Access {
	case "admin":
		return "admin"
	case "public":
		return "anonymous"
	}
	return "alice"
}

// TestCSRFOnEveryStateChangingRoute sends each non-GET route as its rightful
// user, but without the token, with a wrong one, and from another site.
func TestCSRFOnEveryStateChangingRoute(t *testing.T) {
	w := newWorld(t)
	routes := stateChanging()
	if len(routes) < 10 {
		t.Fatalf("only %d state-changing routes found", len(routes))
	}
	var refused atomic.Int64
	defer func() {
		t.Logf("csrf: %d state-changing routes, %d forged requests refused", len(routes), refused.Load())
	}()
	for _, r := range routes {
		t.Run(routeKey(r), func(t *testing.T) {
			role := roleFor(r)
			c := w.as(t, role)
			tok := c.token()
			path, ct, body := w.request(t, r, paramsFor(role))
			before := w.calls.n.Load()
			for name, hdr := range map[string]map[string]string{
				"no token":    {"X-CSRF-Token": ""},
				"wrong token": {"X-CSRF-Token": strings.Repeat("0", len(tok))},
				"cross-site":  {"Sec-Fetch-Site": "cross-site"},
				"same-site":   {"Sec-Fetch-Site": "same-site"},
				// The right token, but only in the query string: never accepted there.
				"token only in the query": {"X-CSRF-Token": "", "X-Query": ""},
				// A browser that sends no Sec-Fetch-Site still names the page's origin.
				"foreign Origin, no Sec-Fetch-Site": {"Origin": "https://attacker.example"},
			} {
				p := path
				if _, ok := hdr["X-Query"]; ok {
					p += "?_csrf=" + tok
				}
				got := c.send(r.Method, p, ct, body, hdr)
				if got.status != http.StatusForbidden {
					t.Errorf("%s %s (%s): got %d, want 403", r.Method, p, name, got.status)
				} else {
					refused.Add(1)
				}
			}
			if n := w.calls.n.Load() - before; n != 0 {
				t.Errorf("refused requests made %d platform calls", n)
			}
			// Nothing changed: still signed in (a refused logout did not log out).
			if role != "anonymous" {
				if r := c.get("/"); r.status != http.StatusSeeOther || r.header.Get("Location") == "/login" {
					t.Errorf("after the refused requests: GET / got %d %q, want still signed in", r.status, r.header.Get("Location"))
				}
			}
		})
	}
}

// TestOversizedBodiesAndMalformedIDs: every non-GET route refuses a body over
// the limit with 413, and every route with a parameter answers a malformed one
// with 400 or 404 without calling the platform.
func TestOversizedBodiesAndMalformedIDs(t *testing.T) {
	w := newWorld(t)
	for _, r := range stateChanging() {
		role := roleFor(r)
		c := w.as(t, role)
		path, ct, _ := w.request(t, r, paramsFor(role))
		big := `{"kind":"event","name":"` + strings.Repeat("x", 100_000) + `"}`
		if ct == "form" {
			big = "email=a%40example.com&password=" + strings.Repeat("x", 100_000)
		}
		before := w.calls.n.Load()
		if got := c.send(r.Method, path, ct, big, nil); got.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s with a 100 kB body: got %d, want 413", r.Method, path, got.status)
		}
		if n := w.calls.n.Load() - before; n != 0 {
			t.Errorf("%s with an oversized body made %d platform calls", routeKey(r), n)
		}
	}
	bad := []string{"x", "A11CE000000000000000000000000001", strings.Repeat("a", 33), strings.Repeat("a", 31), "..%2f..%2fetc%2fpasswd",
		"%27%20OR%201%3D1%20--", "%00", "-1", "0", "99999999999999999999999", "%3Cscript%3E", strings.Repeat("f", 4000)}
	tried := 0
	for _, r := range web.Routes() {
		if !hasParams(r) {
			continue
		}
		role := roleFor(r)
		c := w.as(t, role)
		_, ct, body := w.request(t, r, paramsFor(role))
		for _, b := range bad {
			var segs []string
			for _, seg := range strings.Split(r.Path, "/") {
				if strings.HasPrefix(seg, ":") {
					seg = b
				}
				segs = append(segs, seg)
			}
			path := strings.Join(segs, "/")
			before := w.calls.n.Load()
			got := c.send(r.Method, path, ct, body, nil)
			tried++
			if got.status != http.StatusNotFound && got.status != http.StatusBadRequest {
				t.Errorf("%s %s: got %d, want 400 or 404", r.Method, path, got.status)
			}
			if n := w.calls.n.Load() - before; n != 0 {
				t.Errorf("%s %s made %d platform calls", r.Method, path, n)
			}
			if strings.Contains(got.body, "<script>") || strings.Contains(got.body, "sql") {
				t.Errorf("%s %s: the refusal echoes the input or internals: %.200q", r.Method, path, got.body)
			}
		}
	}
	t.Logf("malformed parameters tried: %d", tried)
}

func sessionCookieOf(r resp, name string) string {
	for _, v := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// TestSessionLifecycle: a fresh id on every login (a planted cookie is
// revoked, not adopted), revocation on logout and on a password change.
func TestSessionLifecycle(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	u, _ := url.Parse(a.srv.URL)

	// An attacker's own valid session planted in alice's browser is replaced on her login.
	attacker := a.client()
	attacker.login("bob@example.com", "demo-bob")
	planted := attacker.cookie("portal_session")
	victim := a.client()
	victim.token()
	victim.http.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: planted}})
	if r := victim.login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
		t.Fatalf("login: got %d", r.status)
	}
	if got := victim.cookie("portal_session"); got == planted || got == "" {
		t.Fatal("login kept the planted session cookie")
	}
	if r := attacker.get("/accounts"); r.status != http.StatusSeeOther {
		t.Fatalf("the planted session after the victim's login: got %d, want 303 (revoked)", r.status)
	}
	if r := victim.get("/accounts"); r.status != http.StatusOK || !strings.Contains(r.body, aliceAcct) || strings.Contains(r.body, bobAcct) {
		t.Fatalf("victim's page: got %d, want alice's own connections", r.status)
	}

	// A password change ends every session of that user, on every device.
	phone, laptop, other := a.client(), a.client(), a.client()
	phone.login("alice@example.com", "demo-alice")
	laptop.login("alice@example.com", "demo-alice")
	other.login("bob@example.com", "demo-bob")
	alice, err := a.db.UserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("new-alice-pass"), bcrypt.MinCost)
	if err := a.db.SetPassword(ctx, alice.ID, string(hash)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"phone": phone, "laptop": laptop, "victim": victim} {
		if r := c.get("/accounts"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Errorf("alice's %s after the password change: got %d, want 303 /login", name, r.status)
		}
	}
	if r := other.get("/accounts"); r.status != http.StatusOK {
		t.Errorf("bob after alice's password change: got %d, want 200", r.status)
	}
	if r := a.client().login("alice@example.com", "demo-alice"); r.status != http.StatusUnauthorized {
		t.Errorf("old password: got %d, want 401", r.status)
	}
	if r := a.client().login("alice@example.com", "new-alice-pass"); r.status != http.StatusSeeOther {
		t.Errorf("new password: got %d, want 303", r.status)
	}

	// Logout expires the cookie and revokes it server-side.
	c := a.client()
	c.login("bob@example.com", "demo-bob")
	saved := c.cookie("portal_session")
	r := c.post("/logout", nil)
	set := sessionCookieOf(r, "portal_session")
	if r.status != http.StatusSeeOther || !strings.Contains(set, "Max-Age=0") && !strings.Contains(set, "Max-Age=-1") && !strings.Contains(set, "Expires=Thu, 01 Jan 1970") {
		t.Errorf("logout: got %d and cookie %q, want 303 and an expired cookie", r.status, set)
	}
	replay := a.client()
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: saved}})
	if r := replay.get("/accounts"); r.status != http.StatusSeeOther {
		t.Errorf("cookie replayed after logout: got %d, want 303", r.status)
	}

	// A forged or tampered cookie is just "signed out".
	forged := a.client()
	forged.http.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: saved[:len(saved)-4] + "AAAA"}})
	if r := forged.get("/accounts"); r.status != http.StatusSeeOther {
		t.Errorf("tampered cookie: got %d, want 303", r.status)
	}
}

// TestCookieFlagsOverTLS: behind TLS the session cookie, which also anchors
// the CSRF token before sign-in, is Secure, HttpOnly and SameSite=Lax; there
// is no separate CSRF cookie that navigation from another site could replace.
func TestCookieFlagsOverTLS(t *testing.T) {
	a := newApp(t)
	assets, _ := static.Load()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions := web.NewSessions(a.db, make([]byte, 32), make([]byte, 32), true)
	h := handlers.New(log, handlers.Deps{Store: a.db, Sessions: sessions, Assets: assets}, handlers.Options{})
	e := web.New(web.Config{Log: log, Store: a.db, Assets: assets, Handler: h, Sessions: sessions, SecureCookies: true})

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	var anon *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		switch ck.Name {
		case "portal_session":
			anon = ck
		default:
			t.Errorf("unexpected cookie %s", ck.Name)
		}
	}
	if anon == nil {
		t.Fatal("the sign-in form set no session cookie to anchor its CSRF token")
	}
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(anon.String(), want) {
			t.Errorf("pre-sign-in cookie %q lacks %s", anon.String(), want)
		}
	}
	token := csrfToken(t, rec.Body.String())
	if token == "" {
		t.Fatal("no CSRF token on /login")
	}
	if got := rec.Header().Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=") {
		t.Errorf("HSTS over TLS: got %q", got)
	}
	form := url.Values{"_csrf": {token}, "email": {"alice@example.com"}, "password": {"demo-alice"}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "portal_session", Value: anon.Value})
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login over TLS: got %d", rec.Code)
	}
	sessSet := ""
	for _, v := range rec.Header().Values("Set-Cookie") {
		if strings.HasPrefix(v, "portal_session=") {
			sessSet = v
		}
	}
	for _, want := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(sessSet, want) {
			t.Errorf("session cookie %q lacks %s", sessSet, want)
		}
	}
	if strings.Contains(sessSet, "alice") || strings.Contains(sessSet, "demo-alice") {
		t.Error("the session cookie carries readable user data")
	}
}

// TestIPThrottle: one address spraying passwords over many emails is slowed
// down too, without locking out the emails themselves from elsewhere.
func TestIPThrottle(t *testing.T) {
	a := newApp(t)
	c := a.client()
	for i := 0; i < 30; i++ {
		if r := c.login(fmt.Sprintf("user%d@example.com", i), "guess"); r.status != http.StatusUnauthorized {
			t.Fatalf("failed login #%d: got %d, want 401", i+1, r.status)
		}
	}
	if r := c.login("alice@example.com", "demo-alice"); r.status != http.StatusTooManyRequests {
		t.Fatalf("after 30 failures from one address: got %d, want 429", r.status)
	}
}

// TestHeadersOnEveryKindOfResponse: pages, errors, JSON and static files all
// carry the security headers, and no page has inline script or style.
func TestHeadersOnEveryKindOfResponse(t *testing.T) {
	a := newApp(t)
	c := a.client()
	c.login("alice@example.com", "demo-alice")
	body := c.get("/accounts").body
	paths := []string{"/login", "/accounts", "/accounts/" + aliceAcct, "/no/such/page", "/admin", "/healthz"}
	paths = append(paths, staticPaths(t, body)...)
	sort.Strings(paths)
	for _, p := range paths {
		r := c.get(p)
		checkHeaders(t, r)
		if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			if hasInlineScript(t, r.body) || strings.Contains(r.body, " style=") || strings.Contains(r.body, " onclick=") || strings.Contains(r.body, "javascript:") {
				t.Errorf("%s has inline script or style", p)
			}
			if r.header.Get("Cache-Control") != "no-store" && r.status == http.StatusOK {
				t.Errorf("%s: Cache-Control %q, want no-store for a signed-in page", p, r.header.Get("Cache-Control"))
			}
		}
	}
	r := c.send(http.MethodPost, "/link/sessions", "json", `{"mode":"bogus"}`, nil)
	checkHeaders(t, r)
	if r.status != http.StatusBadRequest || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("JSON refusal: got %d %s", r.status, r.header.Get("Content-Type"))
	}
}
