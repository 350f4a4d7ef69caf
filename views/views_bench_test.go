package views_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/bankconnections/portal/views"
)

// Page rendering, as the handlers do it (into a reused buffer):
//
//	go test -run '^$' -bench . -benchmem ./views
func benchRender(b *testing.B, c templ.Component) {
	b.Helper()
	var buf bytes.Buffer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := c.Render(ctx, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

var benchLayout = views.Layout{Title: "Your bank connections", Nav: "accounts", SignedIn: true, UserEmail: "alice@example.com",
	CSRF: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", CSS: "/static/app.0123456789.css",
	Scripts: []string{"/static/app.0123456789.js", "/static/link.0123456789.js", "https://cdn.plaid.com/link/v2/stable/link-initialize.js"}}

func BenchmarkAccountsPage(b *testing.B) {
	states := []string{"refresh_required", "refresh_required", "failed", "unverified", "storing"}
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	v := views.AccountsView{LinkEnabled: true, LastUpdated: &now,
		Banners: []views.Banner{{ID: 1, Kind: "refresh_required", Message: "Your connection to Tartan Bank needs attention: reconnect it to keep using the account."}}}
	for i := 0; i < 20; i++ {
		st := "completed"
		if i < len(states) {
			st = states[i]
		}
		v.Rows = append(v.Rows, views.AccountRow{GUID: fmt.Sprintf("%032x", i+1), Institution: "First Platypus Bank", Name: "Plaid Checking",
			Mask: fmt.Sprintf("%04d", i), State: st, UpdatedAt: now})
	}
	benchRender(b, views.AccountsPage(benchLayout, v))
}

func BenchmarkAdminConnectionsPage(b *testing.B) {
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	l := benchLayout
	l.Title, l.Nav, l.IsAdmin, l.UserEmail = "Bank connections", "admin", true, "admin@example.com"
	v := views.AdminConnectionsView{Next: "YzF8MjAyNi0wMS0xNVQxMjowMDowMC4wMDBafDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAx", LinkEnabled: true}
	for i, s := range []string{"refresh_required", "failed", "storing", "unverified", "completed", "deleting", "deleted"} {
		v.Counts = append(v.Counts, views.StateCount{State: s, N: 1000 * (i + 1)})
	}
	for _, id := range []string{"ins_109508", "ins_109509", "ins_109510", "ins_109511", "ins_109512", "ins_127287", "ins_128026"} {
		v.Institutions = append(v.Institutions, views.Option{Value: id, Label: "Bank " + id})
	}
	for i := 0; i < 50; i++ {
		v.Rows = append(v.Rows, views.AdminRow{GUID: fmt.Sprintf("%032x", i+1), Institution: "Tartan Bank", InstitutionID: "ins_109511",
			Name: "Plaid Checking", Mask: fmt.Sprintf("%04d", i), State: "completed", CustomerGUID: fmt.Sprintf("c%031x", i),
			CustomerEmail: fmt.Sprintf("customer-%d@example.com", i), ChangedAt: now.Add(-time.Duration(i) * time.Hour)})
	}
	benchRender(b, views.AdminConnectionsPage(l, v))
}
