package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bankconnections/portal/internal/testutil"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

// crash kills the portal process with SIGKILL: no shutdown, no flush, as a
// power cut or the OOM killer would.
func (p *portal) crash(t *testing.T) {
	t.Helper()
	if p.cmd == nil || p.cmd.Process == nil {
		t.Fatal("the portal is not running")
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	p.cmd = nil
}

// restart starts the binary again on the same data dir.
func (p *portal) restart(t *testing.T, env ...string) {
	t.Helper()
	p.start(t, env...)
}

// portalDB opens the portal's database read-only, next to the running server.
func portalDB(t *testing.T, p *portal) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(p.DataDir, "portal.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// accountStates reads the customer's rows from the accounts page.
func (a *apiClient) accountStates() map[string]string {
	a.t.Helper()
	res, err := a.c.Get(a.base + "/accounts")
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := map[string]string{}
	for _, r := range accountRows(a.t, string(b)) {
		out[r.guid] = r.state
	}
	return out
}

// poll retries cond until it holds or the deadline passes.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.EventuallyEvery(t, d, 200*time.Millisecond, func() error {
		if !cond() {
			return fmt.Errorf("%s: not yet", what)
		}
		return nil
	})
}

// reconnectQueued runs the update flow's HTTP half for one connection while
// the platform refuses PATCHes: the completion is recorded and left queued.
func reconnectQueued(t *testing.T, c *apiClient, guid string) string {
	t.Helper()
	status, ls := c.json(http.MethodPost, "/link/sessions", map[string]string{"mode": "update", "account_guid": guid})
	if status != http.StatusCreated {
		t.Fatalf("start reconnect of %s: got %d %v", guid, status, ls)
	}
	poll(t, 30*time.Second, "link token for "+guid, func() bool {
		status, got := c.json(http.MethodGet, "/link/sessions/"+ls["id"], nil)
		if status == http.StatusOK && got["state"] != "pending" && got["state"] != "ready" {
			t.Fatalf("link session of %s: %v", guid, got)
		}
		return status == http.StatusOK && got["state"] == "ready" && got["link_token"] != ""
	})
	status, res := c.json(http.MethodPost, "/link/sessions/"+ls["id"]+"/complete", map[string]any{"public_token": "", "metadata": map[string]any{"accounts": []any{}}})
	if status != http.StatusOK || res["status"] != "finishing" {
		t.Fatalf("complete reconnect of %s during the fault: got %d %v, want finishing", guid, status, res)
	}
	return ls["id"]
}

// logLines returns the JSON log records with the given message.
func logLines(stderr, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, `"msg":"`+msg+`"`) {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// TestCrashWithQueuedCompletions kills the real portal with kill -9 while
// reconnects are queued behind a platform fault, restarts it on the same data
// dir, and checks that every completion finishes exactly once.
func TestCrashWithQueuedCompletions(t *testing.T) {
	env := []string{"PORTAL_SYNC_INTERVAL=1s"}
	p := startPortal(t, env...)
	alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
	bob := signIn(t, p.URL, "bob@example.com", "demo-bob")
	sb := simplatform.Sandbox{BaseURL: p.PlatformURL}
	ctx := context.Background()

	// Expire every usable connection of both customers.
	targets := map[string][]string{} // login -> connections
	clients := map[string]*apiClient{"alice": alice, "bob": bob}
	// The demo's expired connections have a broken bank login (Plaid's Item);
	// reconnected here without Link, the bank still refuses them, and the
	// portal's check with the bank after the PATCH must say so.
	brokenLogin := map[string]bool{}
	for who, c := range clients {
		for guid, state := range c.accountStates() {
			switch state {
			case "completed":
				if err := sb.PinState(ctx, guid, "refresh_required", ""); err != nil {
					t.Fatal(err)
				}
				targets[who] = append(targets[who], guid)
			case "refresh_required":
				brokenLogin[guid] = true
				targets[who] = append(targets[who], guid)
			}
		}
	}
	total := len(targets["alice"]) + len(targets["bob"])
	if len(targets["alice"]) < 2 || len(targets["bob"]) < 1 {
		t.Fatalf("expired connections: alice %d, bob %d; want at least 2 and 1", len(targets["alice"]), len(targets["bob"]))
	}
	for who, guids := range targets {
		c := clients[who]
		poll(t, 30*time.Second, "the portal to see the expiries", func() bool {
			states := c.accountStates()
			for _, g := range guids {
				if states[g] != "refresh_required" {
					return false
				}
			}
			return true
		})
	}

	// The platform refuses every PATCH: each reconnect is recorded and queued.
	if err := sb.SetFaults(ctx, []simplatform.Fault{{Method: http.MethodPatch, PathPrefix: "/api/external_bank_accounts", Status: http.StatusInternalServerError}}); err != nil {
		t.Fatal(err)
	}
	logStart := len(p.stderr.String()) // the demo's own seeding PATCHes came before
	sessions := map[string]string{}    // link session -> connection
	for who, guids := range targets {
		for _, g := range guids {
			sessions[reconnectQueued(t, clients[who], g)] = g
		}
	}
	db := portalDB(t, p)
	var queued int
	if err := db.QueryRow(`SELECT COUNT(*) FROM completions WHERE state = 'queued'`).Scan(&queued); err != nil || queued != total {
		t.Fatalf("queued completions before the crash: got %d (%v), want %d", queued, err, total)
	}

	p.crash(t)
	p.restart(t, env...)
	sb = simplatform.Sandbox{BaseURL: p.PlatformURL}
	if err := sb.ClearFaults(ctx); err != nil { // the simulator restarted too; make sure
		t.Fatal(err)
	}
	clients = map[string]*apiClient{"alice": signIn(t, p.URL, "alice@example.com", "demo-alice"), "bob": signIn(t, p.URL, "bob@example.com", "demo-bob")}

	poll(t, 90*time.Second, "every queued completion to finish after the restart", func() bool {
		var left int
		db.QueryRow(`SELECT COUNT(*) FROM completions WHERE state = 'queued'`).Scan(&left)
		return left == 0
	})
	rows, err := db.Query(`SELECT id, link_session_id, state, account_guid, COALESCE(public_token, '') FROM completions`)
	if err != nil {
		t.Fatal(err)
	}
	perSession := map[string]int{}
	ids := map[float64]string{}
	for rows.Next() {
		var id int64
		var ls, state, guid, token string
		if err := rows.Scan(&id, &ls, &state, &guid, &token); err != nil {
			t.Fatal(err)
		}
		perSession[ls]++
		if state != "done" || guid != sessions[ls] {
			t.Errorf("completion %d: got %s for %s, want done for %s", id, state, guid, sessions[ls])
		}
		ids[float64(id)] = guid
	}
	rows.Close()
	if len(perSession) != total {
		t.Fatalf("completions: got %d, want %d (one per reconnect)", len(perSession), total)
	}
	// Exactly once: one "done" per completion and one successful PATCH per
	// connection, across both lives of the process.
	done := map[float64]int{}
	logs := p.stderr.String()[logStart:]
	for _, rec := range logLines(logs, "link completion done") {
		if id, ok := rec["completion"].(float64); ok {
			done[id]++
		}
	}
	for id, guid := range ids {
		if done[id] != 1 {
			t.Errorf("completion %v for %s finished %d times, want exactly once", id, guid, done[id])
		}
	}
	patched := map[string]int{}
	for _, rec := range logLines(logs, "platform call") {
		u, _ := rec["url"].(string)
		if rec["method"] == http.MethodPatch {
			patched[u[strings.LastIndex(u, "/")+1:]]++
		}
	}
	for _, guid := range sessions {
		if patched[guid] != 1 {
			t.Errorf("successful PATCHes of %s: got %d, want 1", guid, patched[guid])
		}
	}
	// The customers see their connections back, without a failure banner;
	// those whose bank login is still broken honestly as still expired.
	for who, guids := range targets {
		c := clients[who]
		poll(t, 30*time.Second, "connected rows after the restart", func() bool {
			states := c.accountStates()
			for _, g := range guids {
				if brokenLogin[g] {
					if states[g] != "refresh_required" {
						return false
					}
				} else if states[g] != "completed" && states[g] != "unverified" {
					return false
				}
			}
			return true
		})
	}
	var failedBanners int
	db.QueryRow(`SELECT COUNT(*) FROM notifications WHERE kind = 'completion_failed'`).Scan(&failedBanners)
	if failedBanners != 0 {
		t.Errorf("failure banners after the crash: %d", failedBanners)
	}
	t.Logf("crash survived: %d queued completions, all finished exactly once", total)
}
