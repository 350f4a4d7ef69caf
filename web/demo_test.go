package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/views"
	"github.com/bankconnections/portal/web"
)

// fakeDemo stands in for cmd/portal's demo controller (which drives the
// simulators); it records what the panel asked for.
type fakeDemo struct {
	mu    sync.Mutex
	calls []string
}

var _ handlers.Demo = (*fakeDemo)(nil)

func (f *fakeDemo) record(s string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return "done: " + s
}

func (f *fakeDemo) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeDemo) Logins() []views.DemoLogin {
	return []views.DemoLogin{
		{Email: "alice@example.com", Name: "Alice", Note: "a customer"},
		{Email: "bob@example.com", Name: "Bob", Note: "another customer"},
		{Email: "admin@example.com", Name: "Admin", Note: "the admin"},
	}
}
func (f *fakeDemo) Platform() (string, time.Time) { return "normal", time.Time{} }
func (f *fakeDemo) ResetReady() bool              { return true }
func (f *fakeDemo) ExpireConnection(_ context.Context, cust string) (string, error) {
	return f.record("expire " + cust), nil
}
func (f *fakeDemo) FireWebhook(_ context.Context, cust, code string) (string, error) {
	return f.record("webhook " + code + " " + cust), nil
}
func (f *fakeDemo) FailPlatform(context.Context) (string, error)    { return f.record("fail"), nil }
func (f *fakeDemo) SlowPlatform(context.Context) (string, error)    { return f.record("slow"), nil }
func (f *fakeDemo) RecoverPlatform(context.Context) (string, error) { return f.record("recover"), nil }
func (f *fakeDemo) Reset(context.Context) (string, error)           { return f.record("reset"), nil }

// newDemoApp is newApp in demo mode: the handlers get a Demo; plus a user
// made by an operator, who is not one of the demo's people.
func newDemoApp(t *testing.T) (*app, *fakeDemo) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []struct{ email, role, cust string }{
		{"alice@example.com", store.RoleCustomer, aliceGUID},
		{"bob@example.com", store.RoleCustomer, bobGUID},
		{"admin@example.com", store.RoleAdmin, ""},
		{"ops@bank.example", store.RoleAdmin, ""},
	} {
		h, _ := bcrypt.GenerateFromPassword([]byte("a long password"), bcrypt.MinCost)
		if _, err := db.CreateUser(ctx, store.User{Email: u.email, PasswordHash: string(h), Role: u.role, CustomerGUID: u.cust}); err != nil {
			t.Fatal(err)
		}
	}
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions := web.NewSessions(db, make([]byte, 32), make([]byte, 32), false)
	demo := &fakeDemo{}
	h := handlers.New(log, handlers.Deps{Store: db, Sessions: sessions, Assets: assets, Demo: demo}, handlers.Options{})
	e := web.New(web.Config{Log: log, Store: db, Assets: assets, Handler: h, Sessions: sessions})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &app{t: t, srv: srv, db: db}, demo
}

func demoRoutes() []web.Route {
	var out []web.Route
	for _, r := range web.Routes() {
		if r.Access == "demo" {
			out = append(out, r)
		}
	}
	return out
}

func TestDemoControlsAbsentAndRefusedInLiveMode(t *testing.T) {
	a := newApp(t)
	c := a.client()
	pages := map[string]string{"/login": c.get("/login").body}
	c.login("alice@example.com", "demo-alice")
	pages["/accounts"] = c.get("/accounts").body
	pages["/accounts/unknown"] = c.get("/accounts/" + bobAcct).body
	for path, body := range pages {
		for _, absent := range []string{`data-testid="demo`, "/demo/", "demo.js", "demo.css"} {
			if strings.Contains(body, absent) {
				t.Errorf("live %s contains %q", path, absent)
			}
		}
	}
	routes := demoRoutes()
	if len(routes) < 6 {
		t.Fatalf("demo routes in the table: got %d, want 6", len(routes))
	}
	for _, r := range routes {
		form := func() url.Values {
			return url.Values{"email": {"alice@example.com"}, "mode": {"fail"}, "code": {"PENDING_DISCONNECT"}, "step": {"2"}}
		}
		if got := c.post(r.Path, form()); got.status != http.StatusNotFound {
			t.Errorf("live %s %s: got %d, want 404", r.Method, r.Path, got.status)
		}
		if got := a.client().post(r.Path, form()); got.status != http.StatusNotFound {
			t.Errorf("live %s %s anonymous: got %d, want 404", r.Method, r.Path, got.status)
		}
	}
	if r := c.get("/accounts"); r.status != http.StatusOK {
		t.Errorf("still signed in as alice after the refused demo routes: got %d", r.status)
	}
}

func TestDemoControlsOnEveryPage(t *testing.T) {
	a, _ := newDemoApp(t)
	c := a.client()
	pages := map[string]string{"/login": c.get("/login").body}
	c.post("/demo/switch", url.Values{"email": {"alice@example.com"}})
	pages["/accounts"] = c.get("/accounts").body
	pages["404"] = c.get("/accounts/" + bobAcct).body
	admin := a.client()
	admin.post("/demo/switch", url.Values{"email": {"admin@example.com"}})
	pages["/admin/connections"] = admin.get("/admin/connections").body
	for path, body := range pages {
		for _, want := range []string{`data-testid="demo-controls"`, `data-testid="demo-reset"`, `data-email="bob@example.com"`} {
			if !strings.Contains(body, want) {
				t.Errorf("demo %s lacks %s", path, want)
			}
		}
		if hasInlineScript(t, body) || strings.Contains(body, " style=") || strings.Contains(body, "<style") {
			t.Errorf("demo %s has inline script or style", path)
		}
	}
	// The connection stories are offered to customers only.
	if !strings.Contains(pages["/accounts"], `data-testid="demo-expire"`) || strings.Contains(pages["/admin/connections"], `data-testid="demo-expire"`) {
		t.Error("the expiry story should be offered to alice and not to the admin")
	}
}

func TestDemoSwitchUser(t *testing.T) {
	a, _ := newDemoApp(t)
	c := a.client()
	if r := c.post("/demo/switch", url.Values{"email": {"alice@example.com"}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("switch to alice: got %d %q, want 303 /", r.status, r.header.Get("Location"))
	}
	first := c.cookie("portal_session")
	if r := c.get("/accounts"); r.status != http.StatusOK || !strings.Contains(r.body, "alice@example.com") {
		t.Fatalf("alice's accounts: got %d", r.status)
	}
	if r := c.post("/demo/switch", url.Values{"email": {"bob@example.com"}}); r.status != http.StatusSeeOther {
		t.Fatalf("switch to bob: got %d", r.status)
	}
	if second := c.cookie("portal_session"); second == first || second == "" {
		t.Error("switching user did not start a fresh session")
	}
	if r := c.get("/accounts"); !strings.Contains(r.body, "bob@example.com") {
		t.Errorf("after the switch the page is not bob's")
	}
	// The old session is gone, not merely replaced in this browser.
	stale := a.client()
	u, _ := url.Parse(a.srv.URL)
	stale.http.Jar.SetCookies(u, []*http.Cookie{{Name: "portal_session", Value: first}})
	if r := stale.get("/accounts"); r.status != http.StatusSeeOther {
		t.Errorf("alice's session after the switch: got %d, want 303 to /login", r.status)
	}

	// Only the demo's people: never an operator's user, however it is spelled.
	for _, email := range []string{"ops@bank.example", "", "ALICE@example.com", "alice@example.com\n", "<script>"} {
		if r := c.post("/demo/switch", url.Values{"email": {email}}); r.status != http.StatusBadRequest {
			t.Errorf("switch to %q: got %d, want 400", email, r.status)
		}
	}
	if r := c.get("/accounts"); r.status != http.StatusOK || !strings.Contains(r.body, "bob@example.com") {
		t.Error("a refused switch changed who is signed in")
	}
	// Without the CSRF token: refused, nothing changes.
	if r := c.do(http.MethodPost, "/demo/switch", url.Values{"email": {"admin@example.com"}}, nil); r.status != http.StatusForbidden {
		t.Errorf("switch without CSRF: got %d, want 403", r.status)
	}
	if r := c.get("/accounts"); !strings.Contains(r.body, "bob@example.com") {
		t.Error("a forged switch changed who is signed in")
	}
}

func TestDemoActions(t *testing.T) {
	a, demo := newDemoApp(t)
	alice := a.client()
	alice.post("/demo/switch", url.Values{"email": {"alice@example.com"}})
	json := map[string]string{"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
	send := func(c *client, path string, form url.Values, hdr map[string]string) resp {
		t.Helper()
		form.Set("_csrf", c.token())
		return c.do(http.MethodPost, path, form, hdr)
	}
	// The panel's script gets the sentence; a plain form comes back to its page.
	if r := send(alice, "/demo/expire", url.Values{"return": {"/accounts"}}, json); r.status != http.StatusOK || !strings.Contains(r.body, "done: expire "+aliceGUID) {
		t.Errorf("expire as alice (JSON): got %d %s", r.status, r.body)
	}
	for ret, want := range map[string]string{"/accounts": "/accounts", "//evil.example/x": "/", "https://evil.example": "/", "/\\evil.example": "/", "": "/"} {
		if r := send(alice, "/demo/platform", url.Values{"mode": {"fail"}, "return": {ret}}, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("return %q: got %d %q, want 303 %q", ret, r.status, r.header.Get("Location"), want)
		}
	}
	for _, mode := range []string{"slow", "recover"} {
		send(alice, "/demo/platform", url.Values{"mode": {mode}}, json)
	}
	send(alice, "/demo/webhook", url.Values{"code": {"ITEM_LOGIN_REQUIRED"}}, json)
	send(alice, "/demo/webhook", url.Values{"code": {"PENDING_DISCONNECT"}}, json)
	want := []string{"expire " + aliceGUID, "fail", "fail", "fail", "fail", "fail", "slow", "recover",
		"webhook ITEM_LOGIN_REQUIRED " + aliceGUID, "webhook PENDING_DISCONNECT " + aliceGUID}
	if got := demo.called(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("demo calls:\n got %v\nwant %v", got, want)
	}

	// Bad input gets a clear answer and changes nothing.
	before := len(demo.called())
	admin := a.client()
	admin.post("/demo/switch", url.Values{"email": {"admin@example.com"}})
	for _, tc := range []struct {
		c    *client
		path string
		form url.Values
		want int
	}{
		{alice, "/demo/platform", url.Values{"mode": {"explode"}}, http.StatusBadRequest},
		{alice, "/demo/webhook", url.Values{"code": {"USER_PERMISSION_REVOKED"}}, http.StatusBadRequest},
		{admin, "/demo/expire", url.Values{}, http.StatusConflict},
		{admin, "/demo/webhook", url.Values{"code": {"PENDING_DISCONNECT"}}, http.StatusConflict},
		{a.client(), "/demo/expire", url.Values{}, http.StatusConflict},
		{alice, "/demo/tour", url.Values{"step": {"9"}}, http.StatusBadRequest},
	} {
		r := send(tc.c, tc.path, tc.form, json)
		if r.status != tc.want || !strings.Contains(r.body, `"error":"`) || strings.Contains(r.body, "Internal error") {
			t.Errorf("%s %v: got %d %s, want %d with a message", tc.path, tc.form, r.status, r.body, tc.want)
		}
	}
	if n := len(demo.called()); n != before {
		t.Errorf("refused requests reached the demo: %v", demo.called()[before:])
	}
}

func TestDemoResetStartsAFreshSession(t *testing.T) {
	a, demo := newDemoApp(t)
	c := a.client()
	c.post("/demo/switch", url.Values{"email": {"alice@example.com"}})
	first := c.cookie("portal_session")
	if r := c.post("/demo/reset", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("reset: got %d %q, want 303 /", r.status, r.header.Get("Location"))
	}
	if got := demo.called(); len(got) != 1 || got[0] != "reset" {
		t.Fatalf("demo calls: got %v, want [reset]", got)
	}
	if c.cookie("portal_session") == first {
		t.Error("the reset kept the old session")
	}
	if r := c.get("/accounts"); r.status != http.StatusOK || !strings.Contains(r.body, "alice@example.com") {
		t.Errorf("after the reset: got %d, want alice signed in again", r.status)
	}
	anon := a.client()
	// The cookie may carry a pre-sign-in CSRF id; what matters is that nobody is signed in.
	if r := anon.post("/demo/reset", nil); r.status != http.StatusSeeOther {
		t.Errorf("reset by nobody: got %d, want 303", r.status)
	}
	if r := anon.get("/accounts"); r.status == http.StatusOK {
		t.Errorf("after a reset by nobody: /accounts answered %d, want no one signed in", r.status)
	}
}

func TestDemoTourShowsOnceInABrowser(t *testing.T) {
	a, _ := newDemoApp(t)
	c := a.client()
	step := func() string {
		t.Helper()
		body := c.get("/login").body
		i := strings.Index(body, `data-testid="demo-tour" data-step="`)
		if i < 0 {
			return ""
		}
		return body[i+len(`data-testid="demo-tour" data-step="`):][:1]
	}
	if got := step(); got != "1" {
		t.Fatalf("first visit: tour step %q, want 1", got)
	}
	if r := c.post("/demo/tour", url.Values{"step": {"2"}, "return": {"/login"}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Fatalf("next: got %d %q", r.status, r.header.Get("Location"))
	}
	if got := step(); got != "2" {
		t.Errorf("after next: tour step %q, want 2", got)
	}
	c.post("/demo/tour", url.Values{"step": {"done"}})
	if got := step(); got != "" {
		t.Errorf("after closing: tour step %q, want none", got)
	}
	// Another browser still gets it.
	if body := a.client().get("/login").body; !strings.Contains(body, `data-testid="demo-tour"`) {
		t.Error("a new browser does not get the tour")
	}
}
