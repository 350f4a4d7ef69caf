package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/bankconnections/portal/web"
)

// cspDirectives splits a policy into its directives' source lists.
func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			out[f[0]] = f[1:]
		}
	}
	return out
}

// checkNoInline asserts that no script and no style element runs inline
// without the nonce; only style attributes (which cannot carry a nonce) may
// be allowed inline, and only with no nonce in their list.
func checkNoInline(t *testing.T, csp string) {
	t.Helper()
	d := cspDirectives(csp)
	for _, name := range []string{"default-src", "script-src", "style-src", "style-src-elem"} {
		for _, src := range d[name] {
			if src == "'unsafe-inline'" || src == "'unsafe-hashes'" {
				t.Errorf("CSP %q: %s allows %s", csp, name, src)
			}
		}
	}
	if attr := strings.Join(d["style-src-attr"], " "); attr != "'none'" && attr != "'unsafe-inline'" {
		t.Errorf("CSP %q: style-src-attr is %q, want 'none' or 'unsafe-inline' alone", csp, attr)
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	const script = "https://cdn.plaid.com/link/v2/stable/link-initialize.js"
	for _, tc := range []struct {
		name string
		link web.LinkSource
		want map[string]string
	}{
		{"Link off", web.LinkSource{}, map[string]string{
			"default-src": "'self'", "script-src": "'self' 'nonce-N'", "style-src-elem": "'self' 'nonce-N'",
			"style-src-attr": "'none'", "frame-src": "'none'", "connect-src": "'self'"}},
		// Plaid's documented directives for its CDN script.
		{"live", web.LinkSource{Origin: "https://cdn.plaid.com", Script: script, Connect: []string{"https://production.plaid.com"}}, map[string]string{
			"default-src": "'self' https://cdn.plaid.com/", "script-src": "'self' " + script + " 'nonce-N'",
			"style-src": "'self' 'nonce-N'", "style-src-elem": "'self' 'nonce-N'", "style-src-attr": "'unsafe-inline'",
			"frame-src": "https://cdn.plaid.com/", "connect-src": "'self' https://production.plaid.com"}},
		{"demo", web.LinkSource{Origin: "http://127.0.0.1:5000"}, map[string]string{
			"default-src": "'self'", "script-src": "'self' http://127.0.0.1:5000 'nonce-N'", "style-src-elem": "'self' 'nonce-N'",
			"style-src-attr": "'unsafe-inline'", "frame-src": "http://127.0.0.1:5000/", "connect-src": "'self' http://127.0.0.1:5000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csp := web.ContentSecurityPolicy(tc.link, "N")
			d := cspDirectives(csp)
			for name, want := range tc.want {
				if got := strings.Join(d[name], " "); got != want {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
			checkNoInline(t, csp)
		})
	}
}

// Every response gets a fresh nonce, and the page's own script and style
// tags carry exactly that nonce.
func TestNoncePerResponse(t *testing.T) {
	w := newWorld(t)
	c := w.as(t, "alice")
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		r := c.get("/accounts")
		if r.status != http.StatusOK {
			t.Fatalf("accounts: got %d", r.status)
		}
		src := cspDirectives(r.header.Get("Content-Security-Policy"))["script-src"]
		nonce := ""
		for _, s := range src {
			if strings.HasPrefix(s, "'nonce-") {
				nonce = strings.TrimSuffix(strings.TrimPrefix(s, "'nonce-"), "'")
			}
		}
		if len(nonce) < 22 {
			t.Fatalf("script-src %q: want a nonce of at least 128 bits", src)
		}
		if seen[nonce] {
			t.Fatalf("nonce %q reused", nonce)
		}
		seen[nonce] = true
		kinds := map[string]int{}
		page := parse(t, r.body)
		page.Find("script[nonce], link[nonce]").Each(func(_ int, s *goquery.Selection) {
			kind, got := goquery.NodeName(s), s.AttrOr("nonce", "")
			kinds[kind]++
			if got != nonce {
				t.Errorf("<%s nonce=%q>, want the header's %q", kind, got, nonce)
			}
		})
		if kinds["script"] < 1 || kinds["link"] < 1 || page.Find("script").Length() != kinds["script"] {
			t.Errorf("tags with the nonce: %v; every script and the stylesheet must carry it", kinds)
		}
	}
}
