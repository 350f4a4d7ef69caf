package views_test

import (
	"strings"
	"testing"

	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/views"
)

// The admin page offers exactly the actions the rules allow, in every state,
// for the organization's and a customer's connections, in sandbox and live.
func TestAdminPageOffersWhatTheRulesAllow(t *testing.T) {
	testids := map[rules.Action]string{rules.Update: "action-update", rules.Remind: "action-remind", rules.Refresh: "action-refresh",
		rules.ForceRefreshRequired: "action-force-refresh-required", rules.Disconnect: "action-disconnect"}
	for _, state := range rules.States {
		for _, bank := range []bool{false, true} {
			for _, sandbox := range []bool{false, true} {
				row := views.AdminRow{GUID: strings.Repeat("a", 32), Institution: "Tartan Bank", Name: "Checking", Mask: "1111", State: state}
				if !bank {
					row.CustomerGUID = strings.Repeat("c", 32)
				}
				v := views.AdminConnectionView{Row: row, Sandbox: sandbox, LinkEnabled: true}
				doc := render(t, views.AdminConnectionPage(layout, v, views.AdminActionsFor(v.Subject())))
				actions := doc.Find(`[data-testid="actions"]`)
				for action, id := range testids {
					want := rules.AdminAllows(v.Subject(), action)
					if got := actions.Find(`[data-testid="`+id+`"]`).Length() == 1; got != want {
						t.Errorf("%s (organization's %v, sandbox %v): %s offered %v, want %v", state, bank, sandbox, id, got, want)
					}
				}
				if u := actions.Find(`[data-testid="action-update"]`); u.Length() == 1 {
					if m, _ := u.Attr("data-link-mode"); m != "update" {
						t.Errorf("%s: Update connection opens Link in mode %q, want update", state, m)
					}
				}
			}
		}
	}
}

// A confirmation page for an action the state no longer allows says why and has no button.
func TestAdminConfirmPageWithoutTheButtonWhenRefused(t *testing.T) {
	row := views.AdminRow{GUID: strings.Repeat("a", 32), Institution: "Tartan Bank", State: rules.Deleted, CustomerGUID: strings.Repeat("c", 32)}
	action, _ := views.AdminActionBySlug("disconnect")
	doc := render(t, views.AdminConfirmPage(layout, views.AdminConfirmView{Row: row, Action: action, Refusal: rules.Refusal(rules.Disconnect, rules.Deleted, false)}))
	if byTestID(doc, "confirm").Length() != 0 || doc.Find(`[data-testid="confirm-page"] form`).Length() != 0 {
		t.Error("a refused action still has its button")
	}
	if got := byTestID(doc, "not-allowed").Text(); !strings.Contains(got, "already disconnected") {
		t.Errorf("refusal: got %q", got)
	}
	doc = render(t, views.AdminConfirmPage(layout, views.AdminConfirmView{Row: row, Action: action}))
	if byTestID(doc, "confirm").Length() != 1 {
		t.Error("an allowed action has no button")
	}
}

// The customer is asked before a connection left unselected in Link is disconnected.
func TestUnselectedReviewAsksFirst(t *testing.T) {
	v := views.UnselectedReviewView{SessionID: strings.Repeat("d", 32), Row: views.AccountRow{GUID: strings.Repeat("a", 32), Institution: "Tartan Bank", Name: "Checking", Mask: "1111", State: rules.RefreshRequired}}
	doc := render(t, views.UnselectedReviewPage(layout, v))
	form := doc.Find(`form[action="/link/` + v.SessionID + `/review"]`)
	if form.Length() != 1 || form.Find(`input[name="_csrf"][value="tok"]`).Length() != 1 || form.Find(`[data-testid="confirm"]`).Length() != 1 {
		t.Fatal("no CSRF-protected confirmation form")
	}
	if byTestID(doc, "cancel").Length() != 1 {
		t.Error("no way to keep the connection")
	}
	v.Disconnected = true
	doc = render(t, views.UnselectedReviewPage(layout, v))
	if doc.Find(`[data-testid="unselected-review"] form`).Length() != 0 || byTestID(doc, "review-done").Length() != 1 {
		t.Error("an answered question still asks")
	}
}
