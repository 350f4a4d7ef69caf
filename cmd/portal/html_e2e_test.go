package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// Pages are read as HTML (goquery), never with regular expressions over the
// markup: attribute order and quoting are the renderer's business.

func parseHTML(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// accountRow is one row of the customer's accounts page.
type accountRow struct{ guid, state string }

// accountRows lists the rows of an accounts page, in page order.
func accountRows(t *testing.T, body string) []accountRow {
	t.Helper()
	var rows []accountRow
	parseHTML(t, body).Find(`[data-testid="account-row"]`).Each(func(_ int, s *goquery.Selection) {
		rows = append(rows, accountRow{guid: s.AttrOr("data-guid", ""), state: s.AttrOr("data-state", "")})
	})
	return rows
}

// formCSRF is the CSRF field of a page's forms, or "".
func formCSRF(t *testing.T, body string) string {
	t.Helper()
	return parseHTML(t, body).Find(`input[name="_csrf"]`).First().AttrOr("value", "")
}

// metaCSRF is the CSRF token a page gives its scripts, or "".
func metaCSRF(t *testing.T, body string) string {
	t.Helper()
	return parseHTML(t, body).Find(`meta[name="csrf-token"]`).AttrOr("content", "")
}

// formPost gets the page at from and posts form to path with that page's
// CSRF field, as the page's own form would; it returns the answer (its body
// read and closed) and the body.
func formPost(t *testing.T, c *http.Client, base, from, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(base + from)
	if err != nil {
		t.Fatal(err)
	}
	page, err := readBody(res)
	if err != nil {
		t.Fatal(err)
	}
	tok := formCSRF(t, page)
	if tok == "" {
		t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("_csrf", tok)
	if res, err = c.PostForm(base+path, form); err != nil {
		t.Fatal(err)
	}
	body, err := readBody(res)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func readBody(res *http.Response) (string, error) {
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}
