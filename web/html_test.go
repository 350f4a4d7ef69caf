package web_test

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// Pages are read as HTML (goquery), never with regular expressions over the
// markup: attribute order and quoting are the renderer's business.

// parse reads an HTML page.
func parse(t *testing.T, body string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func doc(t *testing.T, r resp) *goquery.Document {
	t.Helper()
	return parse(t, r.body)
}

func testID(d *goquery.Document, id string) *goquery.Selection {
	return d.Find(`[data-testid="` + id + `"]`)
}

// adminRow is one row of the admin's connection list.
type adminRow struct{ guid, state string }

// adminRows lists the rows of an admin connection list page.
func adminRows(t *testing.T, body string) []adminRow {
	t.Helper()
	var rows []adminRow
	testID(parse(t, body), "admin-connection-row").Each(func(_ int, s *goquery.Selection) {
		rows = append(rows, adminRow{guid: s.AttrOr("data-guid", ""), state: s.AttrOr("data-state", "")})
	})
	return rows
}

// nextPage is the admin list's link to its next page, or "".
func nextPage(t *testing.T, body string) string {
	t.Helper()
	return testID(parse(t, body), "next-page").AttrOr("href", "")
}

// staticPaths lists the /static/ URLs a page loads (script src, link href).
func staticPaths(t *testing.T, body string) []string {
	t.Helper()
	var paths []string
	parse(t, body).Find("script[src], link[href]").Each(func(_ int, s *goquery.Selection) {
		u := s.AttrOr("src", s.AttrOr("href", ""))
		if strings.HasPrefix(u, "/static/") {
			paths = append(paths, u)
		}
	})
	return paths
}

// csrfToken is the CSRF token of a page's meta element, or "".
func csrfToken(t *testing.T, body string) string {
	t.Helper()
	return parse(t, body).Find(`meta[name="csrf-token"]`).AttrOr("content", "")
}
