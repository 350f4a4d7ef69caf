package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"
)

// tokenShapes are the forms of Plaid's tokens: none may reach a log or a page.
var tokenShapes = regexp.MustCompile(`(public|access|link)-(sandbox|development|production)-[0-9a-f]{8}-[0-9a-f-]{27}`)

// captureBodiesJS records what the page's script sends, to learn the public tokens.
const captureBodiesJS = `(function () {
	window.__sent = [];
	var f = window.fetch;
	window.fetch = function (url, opts) {
		if (opts && typeof opts.body === "string") window.__sent.push(opts.body);
		return f.apply(this, arguments);
	};
	return true;
})()`

// sqliteStrings runs a one-column query on a database file, read-only.
func sqliteStrings(t *testing.T, path, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s.String != "" {
			out = append(out, s.String)
		}
	}
	return out
}

// page fetches a page's HTML as a signed-in person.
func (a *apiClient) page(path string) string {
	a.t.Helper()
	res, err := a.c.Get(a.base + path)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestNoSecretsInLogsOrPages runs both Link flows in the browser against the
// real binary, then looks for every secret it can name in the portal's log
// and in every page: public, access and link tokens, the platform's client
// secret, the Plaid secret, and the passwords typed.
func TestNoSecretsInLogsOrPages(t *testing.T) {
	p := startPortal(t)
	ctx := newBrowser(t)
	guid := aliceWithOneExpired(t, ctx, p)
	eval[bool](t, ctx, captureBodiesJS)
	eval[bool](t, ctx, `window.__noReload = true`)

	// Update mode: reconnect.
	within(t, ctx, 10*time.Second, "click Reconnect", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"][data-guid="`+guid+`"]`)))
	f := linkFrame(t, ctx, p.PlaidURL)
	plaidLogin(t, f, "user_good", "pass_good")
	waitFor(t, ctx, 30*time.Second, "reconnected", rowStateJS+`(`+jsQuote(guid)+`) === "completed|Connected||"`)

	// Create mode: link a new account.
	before := allGUIDs(t, ctx)
	f = chooseInstitution(t, ctx, p, "platypus", "ins_109508")
	plaidLogin(t, f, "user_good", "pass_good")
	chooseAccount(t, f, 1)
	waitFor(t, ctx, 30*time.Second, "a new row", fmt.Sprintf(`document.querySelectorAll('[data-testid="account-row"]').length === %d`, len(before)+1))
	if !eval[bool](t, ctx, `window.__noReload === true`) {
		t.Fatal("the page reloaded: the capture of sent bodies is lost")
	}
	pages := map[string]string{"browser /accounts": eval[string](t, ctx, `document.documentElement.outerHTML`)}

	// The secrets, each from where it really lives.
	secrets := map[string]string{
		"alice's password": "demo-alice", "the admin's password": "demo-admin", "the Plaid password": "pass_good",
	}
	var sent []string
	for _, body := range eval[[]string](t, ctx, `window.__sent`) {
		var in struct {
			PublicToken string `json:"public_token"`
		}
		if json.Unmarshal([]byte(body), &in) == nil && strings.HasPrefix(in.PublicToken, "public-") {
			sent = append(sent, in.PublicToken)
		}
	}
	if len(sent) == 0 {
		t.Fatal("no public token was captured from the create flow")
	}
	for i, tok := range sent {
		secrets[fmt.Sprintf("public token %d", i)] = tok
	}
	for i, tok := range sqliteStrings(t, filepath.Join(p.DataDir, "portal.db"), `SELECT link_token FROM link_sessions`) {
		secrets[fmt.Sprintf("link token %d", i)] = tok
	}
	simDBs, _ := filepath.Glob(filepath.Join(p.DataDir, "platformsim", "*.db"))
	if len(simDBs) == 0 {
		t.Fatal("no simulator database found")
	}
	for _, path := range simDBs {
		for i, tok := range sqliteStrings(t, path, `SELECT plaid_access_token FROM external_bank_accounts`) {
			secrets[fmt.Sprintf("access token %d", i)] = tok
		}
		for _, s := range sqliteStrings(t, path, `SELECT value FROM settings WHERE key = 'client_secret'`) {
			secrets["the platform client secret"] = s
		}
	}
	if state, err := os.ReadFile(filepath.Join(p.DataDir, "plaid-standin.json")); err == nil {
		for _, m := range regexp.MustCompile(`"secret"\s*:\s*"([^"]+)"`).FindAllStringSubmatch(string(state), -1) {
			secrets["the Plaid secret"] = m[1]
		}
	}
	for _, want := range []string{"the platform client secret", "access token 0", "link token 0"} {
		if secrets[want] == "" {
			t.Fatalf("could not read %s: the test would prove nothing", want)
		}
	}

	// Every page either person can see, including the admin's timelines.
	alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
	admin := signIn(t, p.URL, "admin@example.com", "demo-admin")
	anon := &apiClient{t: t, base: p.URL, c: &http.Client{Timeout: 30 * time.Second}}
	pages["/login"] = anon.page("/login")
	for _, path := range []string{"/accounts", "/accounts/" + guid, "/accounts/" + strings.Repeat("0", 32), "/link/oauth-return"} {
		pages["alice "+path] = alice.page(path)
	}
	for _, r := range accountRows(t, pages["alice /accounts"]) {
		pages["alice /accounts/"+r.guid] = alice.page("/accounts/" + r.guid)
		pages["admin /admin/connections/"+r.guid] = admin.page("/admin/connections/" + r.guid)
	}
	for _, path := range []string{"/admin/connections", "/admin/notifications"} {
		pages["admin "+path] = admin.page(path)
	}

	logs := p.stderr.String()
	if !strings.Contains(logs, `"msg":"link completion done"`) {
		t.Fatal("the log does not show the flows: the test would prove nothing")
	}
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the portal's log contains %s", name)
		}
		for where, html := range pages {
			if strings.Contains(html, secret) {
				t.Errorf("page %s contains %s", where, name)
			}
		}
	}
	if m := tokenShapes.FindString(logs); m != "" {
		t.Errorf("the portal's log contains a Plaid token: %.20s…", m)
	}
	for where, html := range pages {
		if m := tokenShapes.FindString(html); m != "" {
			t.Errorf("page %s contains a Plaid token: %.20s…", where, m)
		}
	}

	// Passwords are stored as bcrypt hashes of a real cost.
	for _, h := range sqliteStrings(t, filepath.Join(p.DataDir, "portal.db"), `SELECT password_hash FROM users`) {
		cost, err := bcrypt.Cost([]byte(h))
		if err != nil || cost < bcrypt.DefaultCost {
			t.Errorf("a password hash is not bcrypt of cost >= %d (cost %d, %v)", bcrypt.DefaultCost, cost, err)
		}
	}
	t.Logf("secrets checked: %d secrets against the log and %d pages", len(secrets), len(pages))
}
