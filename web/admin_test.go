package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

// newAdminApp is newApp with the admin side wired to a platform that is not
// there: every page renders from SQLite, and only actions that need the
// platform would fail. sandboxBank false puts the seeded connections at a
// production bank.
func newAdminApp(t *testing.T, sandboxBank bool) *app {
	t.Helper()
	a := newApp(t)
	if !sandboxBank {
		ctx := context.Background()
		for _, guid := range []string{aliceAcct, bobAcct} {
			acct, err := a.db.Account(ctx, guid)
			if err != nil {
				t.Fatal(err)
			}
			acct.Environment = "production"
			if _, err := a.db.UpsertAccounts(ctx, []store.Account{acct}, "seed"); err != nil {
				t.Fatal(err)
			}
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bank := platform.New(platform.Config{BaseURL: "http://127.0.0.1:1", TokenURL: "http://127.0.0.1:1/oauth/token", ClientID: "x", ClientSecret: "y", MaxRetries: -1})
	svc := connections.New(log, a.db, bank, connections.Config{BankGUID: "bank"})
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	sessions := web.NewSessions(a.db, make([]byte, 32), make([]byte, 32), false)
	h := handlers.New(log, handlers.Deps{Store: a.db, Sessions: sessions, Assets: assets, Admin: connections.NewAdmin(svc, nil, connections.AdminConfig{})}, handlers.Options{})
	a.srv.Config.Handler = web.New(web.Config{Log: log, Store: a.db, Assets: assets, Handler: h, Sessions: sessions})
	return a
}

// concrete fills a route's parameters with plausible values.
func concrete(path string) string {
	r := strings.NewReplacer(":guid", aliceAcct, ":action", "remind", ":id", strings.Repeat("c", 32))
	return r.Replace(path)
}

func TestEveryAdminRouteRefusesCustomersAndAnonymous(t *testing.T) {
	a := newAdminApp(t, true)
	anon, alice := a.client(), a.client()
	alice.login("alice@example.com", "demo-alice")
	n := 0
	for _, r := range web.Routes() {
		if r.Access != "admin" {
			if strings.HasPrefix(r.Path, "/admin") {
				t.Errorf("%s %s is under /admin but its access is %q", r.Method, r.Path, r.Access)
			}
			continue
		}
		n++
		path := concrete(r.Path)
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			var got resp
			if r.Method == http.MethodGet {
				got = anon.get(path)
				if got.status != http.StatusSeeOther || got.header.Get("Location") != "/login" {
					t.Fatalf("anonymous: got %d %q, want 303 /login", got.status, got.header.Get("Location"))
				}
				got = alice.get(path)
			} else {
				got = anon.post(path, nil)
				if got.status != http.StatusUnauthorized && got.status != http.StatusForbidden {
					t.Fatalf("anonymous: got %d, want 401 or 403", got.status)
				}
				got = alice.post(path, nil)
			}
			if got.status != http.StatusForbidden {
				t.Fatalf("customer: got %d, want 403", got.status)
			}
			if strings.Contains(got.body, aliceAcct) && r.Method == http.MethodGet {
				t.Fatal("the refusal shows connection data")
			}
		})
	}
	if n < 10 {
		t.Fatalf("admin routes: got %d, want every admin route of the tab", n)
	}
	// Nothing a customer tried changed anything.
	if audits, _ := a.db.AuditForAccount(context.Background(), aliceAcct); len(audits) != 0 {
		t.Fatalf("refused requests were audited as actions: %+v", audits)
	}
}

func TestAdminListPagesAndFilters(t *testing.T) {
	a := newAdminApp(t, true)
	ctx := context.Background()
	base := time.Now().UTC()
	var accts []store.Account
	for i := 0; i < 120; i++ {
		cust := ""
		if i%2 == 0 {
			cust = bobGUID
		}
		accts = append(accts, store.Account{GUID: fmt.Sprintf("%032x", 0xabc000+i), BankGUID: "bank",
			CustomerGUID: cust, Name: "Plaid Checking", Asset: "USD", AccountKind: "plaid", Environment: "sandbox", InstitutionID: "ins_109508",
			State: "completed", CreatedAt: base, UpdatedAt: base})
	}
	if _, err := a.db.UpsertAccounts(ctx, accts, "seed"); err != nil {
		t.Fatal(err)
	}
	admin := a.client()
	admin.login("admin@example.com", "demo-admin")
	seen := map[string]bool{}
	path := "/admin/connections"
	pages := 0
	for path != "" {
		r := admin.get(path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: got %d", path, r.status)
		}
		for _, row := range adminRows(t, r.body) {
			if seen[row.guid] {
				t.Fatalf("row %s on two pages", row.guid)
			}
			seen[row.guid] = true
		}
		pages++
		path = nextPage(t, r.body)
	}
	if len(seen) != 122 || pages != 3 {
		t.Fatalf("got %d rows on %d pages, want 122 on 3", len(seen), pages)
	}
	r := admin.get("/admin/connections?customer=alice@example.com")
	if got := adminRows(t, r.body); len(got) != 1 || got[0].guid != aliceAcct {
		t.Fatalf("customer filter: got %v", got)
	}
	r = admin.get("/admin/connections?state=refresh_required")
	if got := adminRows(t, r.body); len(got) != 1 || got[0].state != "refresh_required" {
		t.Fatalf("state filter: got %v", got)
	}
	if !strings.Contains(r.body, `data-testid="state-count" data-state="completed"`) {
		t.Fatal("no state counts")
	}
	r = admin.get("/admin/connections?bank=1&state=completed")
	if got := adminRows(t, r.body); len(got) != 50 {
		t.Fatalf("bank-level filter: got %d rows", len(got))
	}
	r = admin.get("/admin/connections?after=" + url.QueryEscape("not-a-cursor"))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "page link is not valid") {
		t.Fatalf("bad cursor: got %d", r.status)
	}
}

func TestAdminRemindThroughTheStack(t *testing.T) {
	a := newAdminApp(t, false)
	admin := a.client()
	admin.login("admin@example.com", "demo-admin")
	r := admin.get("/admin/connections/" + aliceAcct)
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="action-remind"`) {
		t.Fatalf("detail: got %d, no remind action", r.status)
	}
	if strings.Contains(r.body, "action-force-refresh-required") {
		t.Fatal("a production bank's connection offers the sandbox-only expiry")
	}
	if r := admin.get("/admin/connections/" + aliceAcct + "/confirm/force-refresh-required"); r.status != http.StatusNotFound {
		t.Fatalf("sandbox confirm for a production bank: got %d, want 404", r.status)
	}
	if r := admin.post("/admin/connections/"+aliceAcct+"/force-refresh-required", nil); r.status != http.StatusNotFound {
		t.Fatalf("sandbox action for a production bank: got %d, want 404", r.status)
	}
	r = admin.get("/admin/connections/" + aliceAcct + "/confirm/remind")
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="confirm"`) {
		t.Fatalf("confirm page: got %d", r.status)
	}
	if r := admin.do(http.MethodPost, "/admin/connections/"+aliceAcct+"/remind", url.Values{}, nil); r.status != http.StatusForbidden {
		t.Fatalf("remind without CSRF token: got %d, want 403", r.status)
	}
	r = admin.post("/admin/connections/"+aliceAcct+"/remind", nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/connections/"+aliceAcct+"?done=") {
		t.Fatalf("remind: got %d %q", r.status, loc)
	}
	r = admin.get(loc)
	if !strings.Contains(r.body, `data-testid="flash"`) || !strings.Contains(r.body, "alice@example.com") {
		t.Fatalf("no outcome after the redirect:\n%s", r.body)
	}
	if strings.Count(r.body, `data-testid="timeline-entry"`) < 3 {
		t.Fatal("the reminder is not on the timeline")
	}
	// alice sees the banner.
	alice := a.client()
	alice.login("alice@example.com", "demo-alice")
	if r := alice.get("/accounts"); !strings.Contains(r.body, `data-kind="reminder"`) {
		t.Fatal("alice has no reminder banner")
	}
	if r := admin.get("/admin/notifications?state=queued"); !strings.Contains(r.body, `data-testid="outbox-email"`) || !strings.Contains(r.body, "alice@example.com") {
		t.Fatal("the reminder email is not in the outbox page")
	}
	// Bob's connection is connected: no reminder, and a forced POST is refused in plain words.
	r = admin.post("/admin/connections/"+bobAcct+"/remind", nil)
	if r.status != http.StatusConflict || strings.Contains(r.body, "Conflict") || !strings.Contains(r.body, "Only a connection that needs a refresh") {
		t.Fatalf("remind a connected account: got %d, want 409 in the admin's words:\n%s", r.status, r.body)
	}
	// Its confirmation page (a stale link) says why and offers no button.
	r = admin.get("/admin/connections/" + bobAcct + "/confirm/remind")
	if r.status != http.StatusOK || strings.Contains(r.body, `data-testid="confirm"`) || !strings.Contains(r.body, `data-testid="not-allowed"`) {
		t.Fatalf("confirm page of an action the state does not allow: got %d\n%s", r.status, r.body)
	}
}
