package web_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bankconnections/portal/internal/pgtest"
	"github.com/bankconnections/portal/store"
)

// eachEngineApp runs test on an app of each store engine, as subtests named
// after it; the PostgreSQL one is skipped with a message without a server.
func eachEngineApp(t *testing.T, test func(t *testing.T, a *app)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "portal.db")
		test(t, newAppOn(t, func() (*store.DB, error) { return store.Open(context.Background(), path) }, nil, nil))
	})
	t.Run("postgres", func(t *testing.T) {
		dbURL := pgtest.URL(t)
		test(t, newAppOn(t, func() (*store.DB, error) { return store.OpenPostgres(context.Background(), dbURL) }, nil, nil))
	})
}

// on is the same browser (cookies, CSRF token) talking to another instance:
// the cookie jar shares cookies across a host's ports, as a load balancer's
// one origin would.
func (c *client) on(b *app) *client {
	cp := *c
	cp.base = b.srv.URL
	return &cp
}

// Failed sign-ins on one instance count on the others: guesses spread over
// two instances are throttled as if there were one.
func TestLoginThrottleSharedByInstances(t *testing.T) {
	eachEngineApp(t, func(t *testing.T, a *app) {
		b := a.instance()
		onA := a.client()
		onB := onA.on(b)
		for i, c := range []*client{onA, onB, onA, onB, onA} {
			if r := c.login("alice@example.com", "wrong"); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong password #%d: got %d, want 401", i+1, r.status)
			}
		}
		for name, c := range map[string]*client{"first": onA, "second": onB} {
			if r := c.login("alice@example.com", "demo-alice"); r.status != http.StatusTooManyRequests {
				t.Fatalf("6th attempt in a minute on the %s instance: got %d, want 429 throttled", name, r.status)
			}
		}
		if r := b.client().login("bob@example.com", "demo-bob"); r.status != http.StatusSeeOther {
			t.Fatalf("bob after alice's throttle: got %d, want 303", r.status)
		}
	})
}

// A person's typos are forgotten once they sign in, on whichever instance:
// the next typos start counting from none.
func TestSignInForgetsTyposOnEveryInstance(t *testing.T) {
	eachEngineApp(t, func(t *testing.T, a *app) {
		b := a.instance()
		onA := a.client()
		for round := range 2 {
			for i := range 4 {
				if r := onA.login("alice@example.com", "wrong"); r.status != http.StatusUnauthorized {
					t.Fatalf("round %d, typo %d: got %d, want 401", round+1, i+1, r.status)
				}
			}
			if r := onA.on(b).login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
				t.Fatalf("round %d, sign in on the other instance after 4 typos: got %d, want 303", round+1, r.status)
			}
		}
	})
}

// Signing out everywhere is seen by every instance on its next request: a
// password change on one, and an operator disabling a user through another
// handle on the database, even when the other instance has the session in
// its read cache.
func TestRevocationSeenByOtherInstances(t *testing.T) {
	eachEngineApp(t, func(t *testing.T, a *app) {
		b := a.instance()
		changer, other := a.client(), b.client()
		if r := changer.login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
			t.Fatalf("sign in on the first instance: got %d", r.status)
		}
		if r := other.login("alice@example.com", "demo-alice"); r.status != http.StatusSeeOther {
			t.Fatalf("sign in on the second instance: got %d", r.status)
		}
		// A session started on one instance is good on the other.
		if r := changer.on(b).get("/accounts"); r.status != http.StatusOK {
			t.Fatalf("the first instance's session on the second: got %d, want 200", r.status)
		}
		for range 2 { // the second read is answered from the cache
			if r := other.get("/accounts"); r.status != http.StatusOK {
				t.Fatalf("the second browser before the change: got %d, want 200", r.status)
			}
		}
		r := changer.post("/account/password", url.Values{"current_password": {"demo-alice"}, "new_password": {"a new long password"},
			"confirm_password": {"a new long password"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("password change on the first instance: got %d", r.status)
		}
		if r := other.get("/accounts"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("the second instance after the change: got %d %q, want 303 /login", r.status, r.header.Get("Location"))
		}
		if r := changer.on(b).get("/accounts"); r.status != http.StatusOK {
			t.Fatalf("the changing browser's new session on the second instance: got %d, want 200", r.status)
		}

		bob := b.client()
		if r := bob.login("bob@example.com", "demo-bob"); r.status != http.StatusSeeOther {
			t.Fatalf("bob signs in: got %d", r.status)
		}
		for range 2 {
			if r := bob.get("/accounts"); r.status != http.StatusOK || !strings.Contains(r.body, bobAcct) {
				t.Fatalf("bob's accounts: got %d", r.status)
			}
		}
		u, err := a.db.UserByEmail(context.Background(), "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.open().SetDisabled(context.Background(), u.ID, true); err != nil {
			t.Fatal(err)
		}
		if r := bob.get("/accounts"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
			t.Fatalf("bob on the second instance after being disabled elsewhere: got %d %q, want 303 /login", r.status, r.header.Get("Location"))
		}
	})
}
