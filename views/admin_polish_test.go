package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/bankconnections/portal/views"
)

func TestAdminTabPolish(t *testing.T) {
	l := views.Layout{Title: "Bank connections", Nav: "admin", SignedIn: true, IsAdmin: true, UserEmail: "admin@example.com", Icon: "/static/favicon.0123.svg"}
	v := views.AdminConnectionsView{Filter: views.AdminFilter{State: "refresh_required"},
		Counts: []views.StateCount{{State: "refresh_required", N: 2}, {State: "completed", N: 5}},
		Rows: []views.AdminRow{{GUID: strings.Repeat("a", 32), Institution: "Tartan Bank", State: "refresh_required",
			CustomerEmail: "alice@example.com", CustomerGUID: strings.Repeat("c", 32), ChangedAt: time.Now()}}}
	doc := render(t, views.AdminConnectionsPage(l, v))

	if got := doc.Find("title").Text(); strings.Count(got, "Bank connections") != 1 {
		t.Errorf("title %q: the site's name said more than once", got)
	}
	if got := doc.Find(`header nav a[aria-current="page"]`).Text(); got != "Admin" {
		t.Errorf("header: current section %q, want Admin", got)
	}
	if got := doc.Find(`.tabs a[aria-current="page"]`).Text(); got != "Bank connections" {
		t.Errorf("admin tabs: current tab %q, want Bank connections", got)
	}
	var current []string
	byTestID(doc, "state-count").Each(func(_ int, s *goquery.Selection) {
		if v, ok := s.Attr("aria-current"); ok {
			current = append(current, s.AttrOr("data-state", "")+"="+v)
		}
	})
	if strings.Join(current, ",") != "refresh_required=true" {
		t.Errorf("state counts with aria-current: %v, want only refresh_required=true", current)
	}
	if byTestID(doc, "state-counts").HasClass("tabs") || doc.Find(".tabs").HasClass("counts") {
		t.Error("the state counts look like the section tabs")
	}
	cols := doc.Find(`[data-testid="admin-connections"] thead th`)
	cells := doc.Find(`[data-testid="admin-connection-row"]`).First().Find("td")
	if cols.Length() != cells.Length() {
		t.Errorf("%d headers for %d columns", cols.Length(), cells.Length())
	}
	cols.Each(func(i int, th *goquery.Selection) {
		if strings.TrimSpace(th.Text()) == "" {
			t.Errorf("column %d has no header", i+1)
		}
	})
	cells.Each(func(i int, td *goquery.Selection) {
		if td.AttrOr("data-label", "") != strings.TrimSpace(cols.Eq(i).Text()) {
			t.Errorf("cell %d: data-label %q, want its column's header %q (the phone layout shows it)", i+1, td.AttrOr("data-label", ""), cols.Eq(i).Text())
		}
	})
	skip := doc.Find("a.skip-link")
	if href := skip.AttrOr("href", ""); href == "" || doc.Find(href).Length() != 1 || skip.Index() != 0 {
		t.Errorf("skip link: href %q, first in body %v: want the first link, to an element on the page", href, skip.Index() == 0)
	}
	if got := doc.Find(`link[rel="icon"]`).AttrOr("href", ""); got != l.Icon {
		t.Errorf("favicon: got %q, want %q", got, l.Icon)
	}
}

func TestAdminTimelineSaysStatesInWords(t *testing.T) {
	v := views.AdminConnectionView{Row: views.AdminRow{GUID: strings.Repeat("a", 32), State: "refresh_required"}, CreatedAt: time.Now(),
		Timeline: []views.TimelineEntry{
			{At: time.Now(), Kind: "state", Title: "State: completed → refresh_required", Detail: "observed by sync"},
			{At: time.Now(), Kind: "notification", Title: "Banner to the customer (refresh_required)"},
		}}
	doc := render(t, views.AdminConnectionPage(views.Layout{}, v, nil))
	text := byTestID(doc, "timeline").Text()
	if strings.Contains(text, "refresh_required") || strings.Contains(text, "completed →") {
		t.Errorf("timeline shows state codes: %q", text)
	}
	if !strings.Contains(text, "Connected → Needs reconnecting") {
		t.Errorf("timeline: got %q, want %q", text, "Connected → Needs reconnecting")
	}
}

func TestAdminConnectionFollowsARefreshInPlace(t *testing.T) {
	for _, running := range []bool{true, false} {
		v := views.AdminConnectionView{Row: views.AdminRow{GUID: strings.Repeat("a", 32), State: "completed"}, CreatedAt: time.Now(),
			Refresh: &views.RefreshStatus{Running: running, StartedAt: time.Now()}}
		doc := render(t, views.AdminConnectionPage(views.Layout{}, v, nil))
		if doc.Find(`meta[http-equiv="refresh"]`).Length() != 0 {
			t.Errorf("running=%v: the page reloads itself (meta refresh)", running)
		}
		live := doc.Find(`#live[data-live]`)
		if live.Find(`[data-testid="refresh-progress"]`).Length() != 1 {
			t.Fatalf("running=%v: the refresh progress is not in the live region", running)
		}
		if polls := strings.Contains(live.AttrOr("hx-trigger", ""), "every"); polls != running {
			t.Errorf("running=%v: hx-trigger %q", running, live.AttrOr("hx-trigger", ""))
		}
	}
}
