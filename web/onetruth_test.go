package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/handlers"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/static"
	"github.com/bankconnections/portal/store"
	"github.com/bankconnections/portal/web"
)

// newLinksApp is newApp with the Link side wired to a platform that is not
// there: pages render from SQLite, and a call to the platform fails.
func newLinksApp(t *testing.T) *app {
	t.Helper()
	a := newApp(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bank := platform.New(platform.Config{BaseURL: "http://127.0.0.1:1", TokenURL: "http://127.0.0.1:1/oauth/token", ClientID: "x", ClientSecret: "y", MaxRetries: -1})
	svc := connections.New(log, a.db, bank, connections.Config{BankGUID: "bank"})
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	sessions := web.NewSessions(a.db, make([]byte, 32), make([]byte, 32), false)
	h := handlers.New(log, handlers.Deps{Store: a.db, Sessions: sessions, Assets: assets, Links: svc}, handlers.Options{LinkEnabled: true})
	a.srv.Config.Handler = web.New(web.Config{Log: log, Store: a.db, Assets: assets, Handler: h, Sessions: sessions})
	return a
}

// A customer who left their account unselected in Link is asked before it is
// disconnected; a platform failure changes nothing and the question stays.
func TestUnselectedUpdateAsksTheCustomerThroughTheStack(t *testing.T) {
	a := newLinksApp(t)
	ctx := context.Background()
	u, err := a.db.UserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("e", 32)
	if err := a.db.CreateLinkSession(ctx, store.LinkSession{ID: id, UserID: u.ID, CustomerGUID: u.CustomerGUID, Mode: "update", AccountGUID: aliceAcct, State: store.LinkReady}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.CreateCompletion(ctx, store.Completion{LinkSessionID: id, CustomerGUID: u.CustomerGUID, Mode: "update", AccountGUID: aliceAcct, Unselected: true}); err != nil {
		t.Fatal(err)
	}
	bob := a.client()
	bob.login("bob@example.com", "demo-bob")
	if r := bob.get("/link/" + id + "/review"); r.status != http.StatusNotFound {
		t.Fatalf("bob reading alice's question: got %d, want 404", r.status)
	}
	if r := bob.post("/link/"+id+"/review", nil); r.status != http.StatusNotFound {
		t.Fatalf("bob answering alice's question: got %d, want 404", r.status)
	}
	alice := a.client()
	alice.login("alice@example.com", "demo-alice")
	r := alice.get("/link/" + id + "/review")
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="unselected-review"`) || !strings.Contains(r.body, `data-testid="confirm"`) {
		t.Fatalf("alice's question: got %d\n%s", r.status, r.body)
	}
	if r := alice.do(http.MethodPost, "/link/"+id+"/review", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("answer without the CSRF token: got %d, want 403", r.status)
	}
	r = alice.post("/link/"+id+"/review", nil)
	if r.status != http.StatusBadGateway || !strings.Contains(r.body, "Nothing was changed") || strings.Contains(r.body, "Bad Gateway") {
		t.Fatalf("answer while the platform is down: got %d, want 502 in plain words\n%s", r.status, r.body)
	}
	if acct, _ := a.db.Account(ctx, aliceAcct); acct.State != store.StateRefreshRequired {
		t.Fatalf("after a failed disconnect: got %s, want refresh_required", acct.State)
	}
	if r := alice.get("/link/" + id + "/review"); !strings.Contains(r.body, `data-testid="confirm"`) {
		t.Fatal("the question is gone after a failed answer")
	}
}

// A disconnected connection stays listed as Disconnected with Link again,
// and only its customer can hide it, only once it is disconnected.
func TestHideADisconnectedConnectionThroughTheStack(t *testing.T) {
	a := newLinksApp(t)
	ctx := context.Background()
	alice := a.client()
	alice.login("alice@example.com", "demo-alice")
	r := alice.post("/accounts/"+aliceAcct+"/hide", nil)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "Only a disconnected connection can be hidden") {
		t.Fatalf("hiding a live connection: got %d\n%s", r.status, r.body)
	}
	if _, err := a.db.MarkAccountsDeleted(ctx, []string{aliceAcct}, "admin"); err != nil {
		t.Fatal(err)
	}
	r = alice.get("/accounts")
	for _, want := range []string{`data-guid="` + aliceAcct + `" data-state="deleted"`, `data-testid="link-again"`, `data-testid="hide-connection"`, "Your bank disconnected"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("alice's list: missing %s", want)
		}
	}
	bob := a.client()
	bob.login("bob@example.com", "demo-bob")
	if r := bob.post("/accounts/"+aliceAcct+"/hide", nil); r.status != http.StatusNotFound {
		t.Fatalf("bob hiding alice's connection: got %d, want 404", r.status)
	}
	if r := alice.do(http.MethodPost, "/accounts/"+aliceAcct+"/hide", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("hide without the CSRF token: got %d, want 403", r.status)
	}
	if r := alice.post("/accounts/"+aliceAcct+"/hide", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/accounts" {
		t.Fatalf("hide: got %d %q", r.status, r.header.Get("Location"))
	}
	if r := alice.get("/accounts"); strings.Contains(r.body, aliceAcct) {
		t.Fatal("the hidden connection is still listed")
	}
}
