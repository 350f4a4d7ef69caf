package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/views"
)

func TestMoneyIsWrittenOneWay(t *testing.T) {
	for _, c := range []struct {
		cents int64
		want  string
	}{{0, "$0.00"}, {5, "$0.05"}, {99999, "$999.99"}, {100000, "$1,000.00"}, {1_000_000, "$10,000.00"}, {123456789, "$1,234,567.89"}, {-250000, "-$2,500.00"}} {
		if got := views.Money(&c.cents); got != c.want {
			t.Errorf("Money(%d) = %q, want %q", c.cents, got, c.want)
		}
	}
}

func TestFieldErrorMarksTheFieldAndTiesTheMessage(t *testing.T) {
	p := views.TransferPanelView{Enabled: true, AccountGUID: "a1",
		Form: views.TransferForm{Amount: "lots", Limit: 1_000_000, Error: "The amount must be a number of dollars, like 25.00.", Field: "amount"}}
	doc := render(t, views.TransferPanel(p, "tok"))
	amount := byTestID(doc, "transfer-amount")
	if v, _ := amount.Attr("aria-invalid"); v != "true" {
		t.Errorf("amount aria-invalid = %q, want true", v)
	}
	if _, ok := amount.Attr("autofocus"); !ok {
		t.Error("the amount field is not focused on load")
	}
	desc, _ := amount.Attr("aria-describedby")
	for _, id := range strings.Fields(desc) {
		if doc.Find("#"+id).Length() != 1 {
			t.Errorf("aria-describedby names %q, which is not on the page", id)
		}
	}
	if !strings.Contains(desc, "transfer-error") || doc.Find("#transfer-error").Text() != p.Form.Error {
		t.Errorf("aria-describedby = %q: the message is not tied to the field", desc)
	}
	if v, ok := byTestID(doc, "transfer-rail").Attr("aria-invalid"); ok {
		t.Errorf("rail aria-invalid = %q: only the field in error is marked", v)
	}

	p.Form = views.TransferForm{Limit: 1_000_000}
	doc = render(t, views.TransferPanel(p, "tok"))
	if _, ok := byTestID(doc, "transfer-amount").Attr("aria-invalid"); ok {
		t.Error("a fresh form marks the amount invalid")
	}
	if _, ok := byTestID(doc, "transfer-amount").Attr("autofocus"); ok {
		t.Error("a fresh form steals focus")
	}
}

func TestNothingSaysAsOfNever(t *testing.T) {
	row := views.AccountRow{GUID: "0123456789abcdef0123456789abcdef", State: "unverified", Institution: "First Gingham", UpdatedAt: time.Now()}
	acc := render(t, views.AccountsPage(views.Layout{}, views.AccountsView{Rows: []views.AccountRow{row}, SyncError: true}))
	one := render(t, views.AccountPage(views.Layout{}, views.AccountView{Row: row, CreatedAt: time.Now()}))
	for name, text := range map[string]string{"accounts": acc.Text(), "account": one.Text()} {
		if strings.Contains(text, "never") {
			t.Errorf("%s page says %q", name, "never")
		}
	}
	if byTestID(acc, "unverified-next").Length() != 1 || byTestID(one, "unverified-next").Length() != 1 {
		t.Error("an Unverified connection does not say what the customer can do next")
	}
}

func TestLiveRegionPollsOnlyWhileSomethingIsInMotion(t *testing.T) {
	row := func(state string) views.AccountRow {
		return views.AccountRow{GUID: strings.Repeat("a", 32), State: state, UpdatedAt: time.Now()}
	}
	for _, c := range []struct {
		name string
		v    views.AccountsView
		poll bool
	}{
		{"all settled", views.AccountsView{Rows: []views.AccountRow{row("completed"), row("refresh_required"), row("failed"), row("unverified")}}, false},
		{"a Pending row", views.AccountsView{Rows: []views.AccountRow{row("completed"), row("storing")}}, true},
		{"a disconnect under way", views.AccountsView{Rows: []views.AccountRow{row("deleting")}}, true},
		{"a reconnect finishing", views.AccountsView{Rows: []views.AccountRow{{GUID: strings.Repeat("b", 32), State: "refresh_required", Finishing: true}}}, true},
		{"an open transfer", views.AccountsView{Rows: []views.AccountRow{row("completed")}, Transfers: []views.TransferRow{{Key: "k", State: "pending", CreatedAt: time.Now()}}}, true},
		{"a finished transfer", views.AccountsView{Rows: []views.AccountRow{row("completed")}, Transfers: []views.TransferRow{{Key: "k", State: "completed", CreatedAt: time.Now()}}}, false},
	} {
		doc := render(t, views.AccountsPage(views.Layout{}, c.v))
		live := doc.Find("#live[data-live]")
		trigger, _ := live.Attr("hx-trigger")
		if swap, _ := live.Attr("hx-swap"); swap != "morph:outerHTML" {
			t.Errorf("%s: hx-swap %q, want morph:outerHTML", c.name, swap)
		}
		if got := strings.Contains(trigger, "every"); got != c.poll {
			t.Errorf("%s: hx-trigger %q: polling %v, want %v", c.name, trigger, got, c.poll)
		}
		if !strings.Contains(trigger, "refresh") {
			t.Errorf("%s: hx-trigger %q: the Link glue cannot ask for a refresh", c.name, trigger)
		}
	}
}

func TestRefusedSignInMarksTheFields(t *testing.T) {
	doc := render(t, views.LoginPage(views.Layout{}, views.LoginView{Email: "alice@example.com", Error: "Wrong email or password."}))
	for _, id := range []string{"email", "password"} {
		f := doc.Find("#" + id)
		if v, _ := f.Attr("aria-invalid"); v != "true" {
			t.Errorf("#%s aria-invalid = %q, want true", id, v)
		}
		if d, _ := f.Attr("aria-describedby"); d == "" || doc.Find("#"+d).Text() != "Wrong email or password." {
			t.Errorf("#%s aria-describedby = %q: not tied to the message", id, d)
		}
	}
	if _, ok := doc.Find("#password").Attr("autofocus"); !ok {
		t.Error("focus does not go to the password after a refusal with the email kept")
	}
	doc = render(t, views.LoginPage(views.Layout{}, views.LoginView{}))
	if _, ok := doc.Find("#email").Attr("aria-invalid"); ok {
		t.Error("a fresh sign-in form marks the email invalid")
	}
	if _, ok := doc.Find("#email").Attr("autofocus"); !ok {
		t.Error("a fresh sign-in form does not focus the email")
	}
}
