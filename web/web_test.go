package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

const (
	aliceGUID = "a11ce000000000000000000000000001"
	bobGUID   = "b0b00000000000000000000000000002"
	aliceAcct = "a0000000000000000000000000000001"
	bobAcct   = "b0000000000000000000000000000001"
)

type app struct {
	t   *testing.T
	srv *httptest.Server
	db  *store.DB
	// open opens one more handle on the app's database (another instance).
	open func() *store.DB
}

func newApp(t *testing.T) *app { t.Helper(); return newAppWith(t, nil) }

// newAppWith is newApp with changes to the stack's configuration.
func newAppWith(t *testing.T, configure func(*web.Config)) *app {
	t.Helper()
	return newAppWithDeps(t, nil, configure)
}

// newAppWithDeps lets a test give the handlers' dependencies their parts.
func newAppWithDeps(t *testing.T, deps func(*handlers.Deps), configure func(*web.Config)) *app {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portal.db")
	return newAppOn(t, func() (*store.DB, error) { return store.Open(context.Background(), path) }, deps, configure)
}

// newAppOn is newAppWithDeps on the database that open opens a handle on.
func newAppOn(t *testing.T, open func() (*store.DB, error), deps func(*handlers.Deps), configure func(*web.Config)) *app {
	t.Helper()
	ctx := context.Background()
	a := &app{t: t, open: func() *store.DB {
		t.Helper()
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
	db := a.open()
	for _, u := range []struct{ email, pass, role, cust string }{
		{"alice@example.com", "demo-alice", store.RoleCustomer, aliceGUID},
		{"bob@example.com", "demo-bob", store.RoleCustomer, bobGUID},
		{"admin@example.com", "demo-admin", store.RoleAdmin, ""},
	} {
		h, _ := bcrypt.GenerateFromPassword([]byte(u.pass), bcrypt.MinCost)
		if _, err := db.CreateUser(ctx, store.User{Email: u.email, PasswordHash: string(h), Role: u.role, CustomerGUID: u.cust}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	acct := func(guid, cust, state string) store.Account {
		return store.Account{GUID: guid, BankGUID: "bank", CustomerGUID: cust, Name: "Plaid Checking", Asset: "USD", AccountKind: "plaid",
			Environment: "sandbox", InstitutionName: "First Platypus Bank", AccountMask: "0000", State: state, CreatedAt: now, UpdatedAt: now}
	}
	if _, err := db.UpsertAccounts(ctx, []store.Account{acct(aliceAcct, aliceGUID, "refresh_required"), acct(bobAcct, bobGUID, "completed")}, "seed"); err != nil {
		t.Fatal(err)
	}
	a.db, a.srv = db, newStack(t, db, deps, configure)
	return a
}

// instance starts another portal instance on the app's database: its own
// store handle and web stack, sharing only the database and the session key.
func (a *app) instance() *app {
	a.t.Helper()
	db := a.open()
	return &app{t: a.t, db: db, open: a.open, srv: newStack(a.t, db, nil, nil)}
}

// newStack serves the portal's web stack on db.
func newStack(t *testing.T, db *store.DB, deps func(*handlers.Deps), configure func(*web.Config)) *httptest.Server {
	t.Helper()
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions := web.NewSessions(db, make([]byte, 32), make([]byte, 32), false)
	frozen := time.Now() // the login throttles' window never ends during a test, however slow the machine
	d := handlers.Deps{Store: db, Sessions: sessions, Assets: assets}
	if deps != nil {
		deps(&d)
	}
	h := handlers.New(log, d, handlers.Options{ThrottleClock: func() time.Time { return frozen }})
	cfg := web.Config{Log: log, Store: db, Assets: assets, Handler: h, Sessions: sessions}
	if configure != nil {
		configure(&cfg)
	}
	srv := httptest.NewServer(web.New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

// client is a browser-like client: cookies, no redirects followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	// tok is the CSRF token of the session cookie tokFor.
	tok, tokFor string
}

func (a *app) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: a.t, base: a.srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) resp {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
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

func (c *client) get(path string) resp { c.t.Helper(); return c.do(http.MethodGet, path, nil, nil) }

// hashedCSS is the shape of the stylesheet's content-hashed URL.
var hashedCSS = regexp.MustCompile(`^/static/app\.[0-9a-f]{12}\.css$`)

// token returns the CSRF token the pages embed. It belongs to the session
// cookie, so it is read again from a page whenever that cookie changes.
func (c *client) token() string {
	c.t.Helper()
	ck := c.cookie("portal_session")
	if c.tok != "" && ck == c.tokFor {
		return c.tok
	}
	path := "/login"
	for range 3 {
		r := c.get(path)
		if r.status == http.StatusSeeOther {
			path = r.header.Get("Location")
			continue
		}
		tok := csrfToken(c.t, r.body)
		if tok == "" {
			c.t.Fatalf("no CSRF token on %s (status %d)", path, r.status)
		}
		c.tok, c.tokFor = tok, c.cookie("portal_session")
		return c.tok
	}
	c.t.Fatalf("no page with a CSRF token from /login")
	return ""
}

func (c *client) post(path string, form url.Values) resp {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("_csrf") == "" {
		form.Set("_csrf", c.token())
	}
	return c.do(http.MethodPost, path, form, nil)
}

func (c *client) login(email, password string) resp {
	c.t.Helper()
	return c.post("/login", url.Values{"email": {email}, "password": {password}})
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func TestLoginStartsANewSessionAndLogoutRevokesIt(t *testing.T) {
	a := newApp(t)
	c := a.client()
	if r := c.login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", r.status)
	}
	first := c.cookie("portal_session")
	if r := c.get("/accounts"); r.status != http.StatusOK || !strings.Contains(r.body, aliceAcct) {
		t.Fatalf("accounts after login: got %d", r.status)
	}
	if r := c.login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
		t.Fatalf("second login: got %d", r.status)
	}
	if second := c.cookie("portal_session"); second == first || second == "" {
		t.Fatal("login did not issue a new session cookie")
	}
	// The old cookie no longer works: its session was replaced.
	stale := a.client()
	u, _ := url.Parse(a.srv.URL)
	stale.http.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: first}})
	if r := stale.get("/accounts"); r.status != http.StatusSeeOther {
		t.Fatalf("replaced session: got %d, want 303 to /login", r.status)
	}
	saved := c.cookie("portal_session")
	if r := c.post("/logout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: got %d", r.status)
	}
	// A copy of the cookie taken before logout is dead server-side.
	replay := a.client()
	replay.http.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: saved}})
	if r := replay.get("/accounts"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Fatalf("cookie after logout: got %d %q, want 303 /login", r.status, r.header.Get("Location"))
	}
}

func TestSessionCookieFlags(t *testing.T) {
	a := newApp(t)
	c := a.client()
	r := c.login("bob@example.com", "demo-bob")
	var set string
	for _, v := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "portal_session=") {
			set = v
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q: missing %s", set, want)
		}
	}
}

func TestWrongPasswordAndThrottle(t *testing.T) {
	a := newApp(t)
	c := a.client()
	for i := 1; i <= 5; i++ {
		r := c.login("alice@example.com", "wrong")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "do not match") {
			t.Fatalf("wrong password #%d: got %d, want 401 with a clear message", i, r.status)
		}
		if strings.Contains(r.body, "wrong") && strings.Contains(r.body, `value="wrong"`) {
			t.Fatal("the password was echoed back")
		}
	}
	r := c.login("alice@example.com", "demo-alice")
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed sign-in attempts") {
		t.Fatalf("6th attempt in a minute: got %d, want 429 throttled", r.status)
	}
	// Another person is not locked out by alice's failures.
	if r := a.client().login("bob@example.com", "demo-bob"); r.status != http.StatusSeeOther {
		t.Fatalf("bob after alice's throttle: got %d, want 303", r.status)
	}
}

func TestUnknownEmailLooksLikeWrongPassword(t *testing.T) {
	a := newApp(t)
	r := a.client().login("nobody@example.com", "whatever")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "do not match") {
		t.Fatalf("unknown email: got %d", r.status)
	}
	r = a.client().login("not-an-email", "whatever")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "valid email") {
		t.Fatalf("malformed email: got %d", r.status)
	}
}

func TestAuthorization(t *testing.T) {
	a := newApp(t)
	anon, alice, bob, admin := a.client(), a.client(), a.client(), a.client()
	alice.login("alice@example.com", "demo-alice")
	bob.login("bob@example.com", "demo-bob")
	admin.login("admin@example.com", "demo-admin")
	cases := []struct {
		name   string
		c      *client
		path   string
		status int
	}{
		{"anonymous accounts", anon, "/accounts", http.StatusSeeOther},
		{"anonymous admin", anon, "/admin", http.StatusSeeOther},
		{"alice own account", alice, "/accounts/" + aliceAcct, http.StatusOK},
		{"alice bob's account", alice, "/accounts/" + bobAcct, http.StatusNotFound},
		{"bob alice's account", bob, "/accounts/" + aliceAcct, http.StatusNotFound},
		{"bob malformed guid", bob, "/accounts/../../etc", http.StatusNotFound},
		{"alice admin", alice, "/admin", http.StatusForbidden},
		{"alice admin subpage", alice, "/admin/connections", http.StatusForbidden},
		{"admin has no customer pages", admin, "/accounts", http.StatusNotFound},
		{"admin admin", admin, "/admin", http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.get(tc.path)
			if r.status != tc.status {
				t.Fatalf("GET %s: got %d, want %d", tc.path, r.status, tc.status)
			}
			if tc.status == http.StatusNotFound && strings.Contains(r.body, "First Platypus") {
				t.Fatal("404 page leaks account data")
			}
		})
	}
	if r := bob.get("/accounts"); strings.Contains(r.body, aliceAcct) {
		t.Fatal("bob's list shows alice's connection")
	}
}

func TestCSRF(t *testing.T) {
	a := newApp(t)
	c := a.client()
	c.login("alice@example.com", "demo-alice")
	tok := c.token()
	if r := c.do(http.MethodPost, "/logout", url.Values{}, nil); r.status != http.StatusForbidden {
		t.Fatalf("logout without token: got %d, want 403", r.status)
	}
	if r := c.do(http.MethodPost, "/logout", url.Values{"_csrf": {wrongToken(tok)}}, nil); r.status != http.StatusForbidden {
		t.Fatalf("logout with a wrong token: got %d, want 403", r.status)
	}
	if r := c.do(http.MethodPost, "/logout", url.Values{"_csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}); r.status != http.StatusForbidden {
		t.Fatalf("cross-site logout: got %d, want 403", r.status)
	}
	if r := c.get("/accounts"); r.status != http.StatusOK {
		t.Fatalf("refused requests must change nothing: accounts got %d", r.status)
	}
	if r := c.do(http.MethodPost, "/logout", url.Values{"_csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "same-origin"}); r.status != http.StatusSeeOther {
		t.Fatalf("same-origin logout with token: got %d, want 303", r.status)
	}
	// Login is protected too (login CSRF).
	if r := a.client().do(http.MethodPost, "/login", url.Values{"email": {"alice@example.com"}, "password": {"demo-alice"}}, nil); r.status != http.StatusForbidden {
		t.Fatalf("login without token: got %d, want 403", r.status)
	}
}

func TestSecurityHeadersAndLimits(t *testing.T) {
	a := newApp(t)
	c := a.client()
	r := c.get("/login")
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q: missing %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline: %q", csp)
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") {
		t.Error("page has inline script or style")
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: got %q, want %q", h, got, want)
		}
	}
	big := url.Values{"email": {"a@example.com"}, "password": {strings.Repeat("x", 100_000)}, "_csrf": {c.token()}}
	if r := c.do(http.MethodPost, "/login", big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: got %d, want 413", r.status)
	}
	r = c.get("/no/such/page")
	if r.status != http.StatusNotFound || !strings.Contains(r.body, "Page not found") {
		t.Fatalf("unknown page: got %d", r.status)
	}
}

func TestStaticAssetsAreHashedAndImmutable(t *testing.T) {
	a := newApp(t)
	c := a.client()
	body := c.get("/login").body
	css := parse(t, body).Find(`link[rel="stylesheet"][href^="/static/app."]`).AttrOr("href", "")
	if !hashedCSS.MatchString(css) {
		t.Fatalf("stylesheet link %q: want a hashed /static/app.<12 hex>.css", css)
	}
	r := c.get(css)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("asset: got %d %q", r.status, r.header.Get("Cache-Control"))
	}
	if r := c.get("/static/app.000000000000.css"); r.status != http.StatusNotFound {
		t.Fatalf("unknown hash: got %d, want 404", r.status)
	}
}

func TestForwardedForCannotDodgeTheThrottle(t *testing.T) {
	a := newApp(t)
	c := a.client()
	tok := c.token()
	var last resp
	for i := 0; i < 31; i++ {
		form := url.Values{"_csrf": {tok}, "email": {"user" + strings.Repeat("x", i) + "@example.com"}, "password": {"wrong"}}
		last = c.do(http.MethodPost, "/login", form, map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)})
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("31st failure from one address with rotating X-Forwarded-For: got %d, want 429", last.status)
	}
}

// wrongToken changes the token's first character, whatever it is.
func wrongToken(tok string) string {
	if tok[0] == '0' {
		return "1" + tok[1:]
	}
	return "0" + tok[1:]
}
