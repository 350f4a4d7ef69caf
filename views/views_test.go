package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/views"
)

func render(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func byTestID(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}

var layout = views.Layout{Title: "Accounts", SignedIn: true, UserEmail: "alice@example.com", CSRF: "tok", CSS: "/static/app.css"}

func TestAccountsPageRowsBadgesAndFlag(t *testing.T) {
	states := []string{"refresh_required", "failed", "storing", "unverified", "completed", "deleting"}
	wantLabel := map[string]string{"refresh_required": "Refresh required", "failed": "Failed", "storing": "Pending",
		"unverified": "Unverified", "completed": "Connected", "deleting": "Disconnecting"}
	var v views.AccountsView
	v.LinkEnabled = true
	for i, s := range states {
		v.Rows = append(v.Rows, views.AccountRow{GUID: strings.Repeat(string(rune('a'+i)), 32), Institution: "Bank " + s, Name: "Checking", Mask: "0000", State: s, FailureCode: "duplicate"})
	}
	doc := render(t, views.AccountsPage(layout, v))
	rows := byTestID(doc, "account-row")
	if rows.Length() != len(states) {
		t.Fatalf("rows: got %d, want %d", rows.Length(), len(states))
	}
	rows.Each(func(i int, row *goquery.Selection) {
		state, _ := row.Attr("data-state")
		guid, _ := row.Attr("data-guid")
		if state != states[i] || guid != v.Rows[i].GUID {
			t.Errorf("row %d: got state %q guid %q", i, state, guid)
		}
		if got := strings.TrimSpace(byTestIDIn(row, "state-badge").Text()); got != wantLabel[state] {
			t.Errorf("badge for %s: got %q, want %q", state, got, wantLabel[state])
		}
		flag := byTestIDIn(row, "needs-refresh")
		reconnect := byTestIDIn(row, "reconnect")
		if state == "refresh_required" {
			if !strings.Contains(flag.Text(), "No transactions") {
				t.Errorf("refresh flag text: got %q", flag.Text())
			}
			if g, _ := reconnect.Attr("data-guid"); g != guid {
				t.Errorf("reconnect data-guid: got %q, want %q", g, guid)
			}
		} else if flag.Length() != 0 || reconnect.Length() != 0 {
			t.Errorf("%s row has a refresh flag or reconnect button", state)
		}
		if state == "failed" {
			// A failed connection never claims to be connected next to "Link again".
			if got := byTestIDIn(row, "failure").Text(); !strings.Contains(got, "matched one already on file") || strings.Contains(got, "already connected") {
				t.Errorf("failed row reason: got %q", got)
			}
		}
		// Every action the rules allow in this state is offered, and nothing else.
		for _, c := range []struct {
			testid string
			action rules.Action
		}{{"reconnect", rules.Reconnect}, {"link-again", rules.LinkAgain}, {"hide-connection", rules.Hide}} {
			if got, want := byTestIDIn(row, c.testid).Length() == 1, rules.CustomerAllows(rules.CustomerSubject{State: state}, c.action); got != want {
				t.Errorf("%s row offers %s: got %v, want %v", state, c.testid, got, want)
			}
		}
		if lm, _ := byTestIDIn(row, "link-again").Attr("data-link-mode"); rules.CustomerAllows(rules.CustomerSubject{State: state}, rules.LinkAgain) && lm != "create" {
			t.Errorf("%s row: link-again opens Link in mode %q, want create", state, lm)
		}
		if got := byTestIDIn(row, "disconnected").Text(); (state == "deleted") != (got != "") || strings.Contains(got, "Reconnect") {
			t.Errorf("%s row: disconnected reason %q", state, got)
		}
	})
	if byTestID(doc, "link-account").Length() != 1 {
		t.Error("missing link-account button")
	}
}

func byTestIDIn(s *goquery.Selection, id string) *goquery.Selection {
	return s.Find(`[data-testid="` + id + `"]`)
}

func TestAccountsPageEmptyState(t *testing.T) {
	doc := render(t, views.AccountsPage(layout, views.AccountsView{}))
	if byTestID(doc, "empty").Length() != 1 || byTestID(doc, "account-row").Length() != 0 {
		t.Fatal("empty state not shown for a customer with no connections")
	}
	if _, disabled := byTestID(doc, "link-account").Attr("disabled"); !disabled {
		t.Error("link button should be disabled while Link is not available")
	}
}

func TestPlatformTextIsEscaped(t *testing.T) {
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	v := views.AccountsView{
		Rows:    []views.AccountRow{{GUID: strings.Repeat("a", 32), Institution: evil, Name: evil, Mask: evil, State: "completed"}},
		Banners: []views.Banner{{ID: 1, Message: evil}},
	}
	var buf bytes.Buffer
	if err := views.AccountsPage(layout, v).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "<script>alert") || strings.Contains(buf.String(), "<img src=x") {
		t.Fatal("platform text rendered as markup")
	}
	doc, _ := goquery.NewDocumentFromReader(&buf)
	if doc.Find("script:not([src])").Length() != 0 || doc.Find("img").Length() != 0 {
		t.Fatal("injected elements present in the DOM")
	}
}

func TestSyncStaleness(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	doc := render(t, views.AccountsPage(layout, views.AccountsView{LastUpdated: &at, SyncError: true}))
	if !strings.Contains(byTestID(doc, "stale").Text(), "Nov 1, 2026 09:30 UTC") {
		t.Fatalf("stale notice: got %q", byTestID(doc, "stale").Text())
	}
}

func TestLoginErrorShown(t *testing.T) {
	doc := render(t, views.LoginPage(views.Layout{CSRF: "tok"}, views.LoginView{Email: "a@example.com", Error: "That email and password do not match"}))
	if !strings.Contains(byTestID(doc, "login-error").Text(), "do not match") {
		t.Fatal("login error not shown")
	}
	if v, _ := doc.Find(`input[name="_csrf"]`).Attr("value"); v != "tok" {
		t.Fatalf("csrf field: got %q", v)
	}
	if _, ok := doc.Find(`input[name="password"]`).Attr("value"); ok {
		t.Fatal("password field must not be pre-filled")
	}
}
