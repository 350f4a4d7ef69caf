package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/bankconnections/portal/store"
)

// TestRefusedLinkResultIsKeptAndFinished: a Link result posted after the
// session ended, or with a stale CSRF token, is refused but kept, and
// finished at the owner's next sign-in (or next visit to the start page);
// nobody else's cookie can leave a result for someone's link session.
func TestRefusedLinkResultIsKeptAndFinished(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	body := `{"public_token":"","metadata":{"accounts":[]}}`
	complete := func(c *client, id string, hdr map[string]string) resp {
		t.Helper()
		return c.send(http.MethodPost, "/link/sessions/"+id+"/complete", "json", body, hdr)
	}
	completion := func(id string) bool {
		t.Helper()
		_, err := w.db.CompletionForSession(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	t.Run("session ended", func(t *testing.T) {
		alice := w.as(t, "alice")
		id := w.owners["alice"].linkSession
		tok := alice.token()
		if _, err := w.db.RevokeUserSessions(ctx, w.users["alice"].ID); err != nil {
			t.Fatal(err)
		}
		// Someone else's ended session cannot leave a result for alice's link session.
		bob := w.as(t, "bob")
		bob.token()
		if _, err := w.db.RevokeUserSessions(ctx, w.users["bob"].ID); err != nil {
			t.Fatal(err)
		}
		if r := complete(bob, id, nil); r.status != http.StatusUnauthorized || strings.Contains(r.body, `"kept"`) {
			t.Fatalf("bob's ended session posting alice's result: got %d %s, want 401 and not kept", r.status, r.body)
		}
		if r := complete(w.client(), id, nil); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized || strings.Contains(r.body, `"kept"`) {
			t.Fatalf("no cookie at all: got %d %s, want a refusal, not kept", r.status, r.body)
		}
		r := complete(alice, id, map[string]string{"X-CSRF-Token": tok})
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"code":"kept"`) {
			t.Fatalf("alice's result after her session ended: got %d %s, want 401 kept", r.status, r.body)
		}
		if completion(id) {
			t.Fatal("a refused result was completed before the owner signed in")
		}
		w.as(t, "alice") // signs in again
		if !completion(id) {
			t.Fatal("the kept result was not finished at alice's next sign-in")
		}
	})

	t.Run("stale CSRF token", func(t *testing.T) {
		bob := w.as(t, "bob")
		id := w.owners["bob"].linkSession
		stale := bob.token()
		// bob signs in again in another tab: the session, and so the token, is new.
		bob.login(w.users["bob"].Email, w.pass["bob"])
		r := complete(bob, id, map[string]string{"X-CSRF-Token": stale})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, `"code":"kept"`) {
			t.Fatalf("bob's result with the old tab's token: got %d %s, want 403 kept", r.status, r.body)
		}
		if completion(id) {
			t.Fatal("a result refused for its token was completed")
		}
		if r := bob.get("/"); r.status != http.StatusSeeOther {
			t.Fatalf("start page: got %d", r.status)
		}
		if !completion(id) {
			t.Fatal("the kept result was not finished when bob came back to the start page")
		}
	})
}

// A Link callback or result that is not Link's JSON is a 400 that says which
// one was not understood, and nothing is recorded.
func TestMalformedLinkBodiesAreRefused(t *testing.T) {
	w := newWorld(t)
	alice := w.as(t, "alice")
	id := w.owners["alice"].linkSession
	hdr := map[string]string{"X-CSRF-Token": alice.token()}
	ctx := context.Background()
	before, err := w.db.LinkEventsForSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for path, words := range map[string]string{
		"callbacks": "The Link callback was not understood.",
		"complete":  "The Link result was not understood.",
	} {
		r := alice.send(http.MethodPost, "/link/sessions/"+id+"/"+path, "json", `{"kind":`, hdr)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, words) {
			t.Errorf("%s with a broken body: got %d %s, want 400 %q", path, r.status, r.body, words)
		}
	}
	if after, err := w.db.LinkEventsForSession(ctx, id); err != nil || len(after) != len(before) {
		t.Errorf("link events: got %d, %v, want the %d from before", len(after), err, len(before))
	}
	if _, err := w.db.CompletionForSession(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a broken result left a completion: %v", err)
	}
}
