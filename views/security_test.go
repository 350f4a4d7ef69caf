package views_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/bankconnections/portal/views"
)

// evil is what a hostile institution, account name, Plaid error or customer
// email could carry: markup, an attribute breakout and a script URL.
const evil = `"'><script>alert(1)</script><img src=x onerror=alert(2)><a href="javascript:alert(3)">x</a><style>*{}</style>`

// fillEvil sets every string reachable in v (struct fields, slices of one
// element, pointers) to evil, so a field added to a view model later is
// covered without touching this test.
func fillEvil(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(evil)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				fillEvil(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillEvil(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillEvil(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	}
}

func evilOf[T any]() T {
	var v T
	fillEvil(reflect.ValueOf(&v).Elem(), 0)
	return v
}

// checkInert renders a page and fails if any injected markup became live.
func checkInert(t *testing.T, name string, c templ.Component) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("%s: render: %v", name, err)
	}
	html := buf.String()
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`, "<style>"} {
		if strings.Contains(html, bad) {
			t.Errorf("%s: injected %q is live markup", name, bad)
		}
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Find("script:not([src]), img, style, [style]").Length(); n != 0 {
		t.Errorf("%s: %d injected elements in the DOM", name, n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("%s: event handler attribute %s=%q", name, a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("%s: script URL in %s", name, a.Key)
			}
		}
	})
	if !strings.Contains(doc.Text(), "<script>alert(1)</script>") {
		t.Errorf("%s: the hostile text is not shown as text at all (was the field rendered?)", name)
	}
}

// TestPlatformAndPlaidTextIsInertOnEveryPage fills every text field of every
// page's view model with markup and checks that none of it becomes live.
func TestPlatformAndPlaidTextIsInertOnEveryPage(t *testing.T) {
	l := views.Layout{Title: evil, SignedIn: true, UserEmail: evil, IsAdmin: true, CSRF: "tok", CSS: "/static/app.css"}
	admin := evilOf[views.AdminConnectionView]()
	for _, state := range []string{"refresh_required", "completed", "deleted", "failed"} {
		v := evilOf[views.AccountsView]()
		for i := range v.Rows {
			v.Rows[i].State = state
		}
		checkInert(t, "accounts page ("+state+")", views.AccountsPage(l, v))
		one := evilOf[views.AccountView]()
		one.Row.State = state
		checkInert(t, "account page ("+state+")", views.AccountPage(l, one))
		admin.Row.State = state
		checkInert(t, "admin connection ("+state+")", views.AdminConnectionPage(l, admin, []views.AdminAction{evilOf[views.AdminAction]()}))
	}
	checkInert(t, "login page", views.LoginPage(l, evilOf[views.LoginView]()))
	checkInert(t, "error page", views.ErrorPage(l, evilOf[views.ErrorView]()))
	checkInert(t, "admin list", views.AdminConnectionsPage(l, evilOf[views.AdminConnectionsView]()))
	checkInert(t, "admin confirm", views.AdminConfirmPage(l, evilOf[views.AdminConfirmView]()))
	checkInert(t, "admin outbox", views.AdminNotificationsPage(l, evilOf[views.AdminNotificationsView]()))
	checkInert(t, "admin Link review", views.AdminLinkReviewPage(l, evilOf[views.AdminLinkReviewView]()))
}
