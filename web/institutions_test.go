package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/bankconnections/portal/store"
)

// The admin's institution filter lists the institutions of the connections
// in the store, named as they are named there: no list of sandbox banks.
func TestAdminInstitutionFilterComesFromTheConnections(t *testing.T) {
	a := newAdminApp(t, true)
	ctx := context.Background()
	acct, err := a.db.Account(ctx, bobAcct)
	if err != nil {
		t.Fatal(err)
	}
	acct.InstitutionID, acct.InstitutionName = "ins_777001", "Bank of the Valley"
	acct.UpdatedAt = acct.UpdatedAt.Add(1)
	if _, err := a.db.UpsertAccounts(ctx, []store.Account{acct}, "test"); err != nil {
		t.Fatal(err)
	}
	admin := a.client()
	admin.login("admin@example.com", "demo-admin")
	r := admin.get("/admin/connections")
	got := map[string]string{}
	parse(t, r.body).Find(`option[value^="ins_"]`).Each(func(_ int, s *goquery.Selection) {
		got[s.AttrOr("value", "")] = s.Text()
	})
	// alice's seeded connection has a name but no id: it offers nothing to filter by.
	if len(got) != 1 || got["ins_777001"] != "Bank of the Valley (ins_777001)" {
		t.Fatalf("institution options: got %v, want only Bank of the Valley", got)
	}
	if r := admin.get("/admin/connections?institution=ins_777001"); len(adminRows(t, r.body)) != 1 {
		t.Fatal("filtering by the listed institution does not find its connection")
	}
}

// Forcing refresh_required is offered for a connection at a sandbox bank
// with no demo switch anywhere (live mode), and refused for a production
// bank (TestAdminRemindThroughTheStack).
func TestForceRefreshRequiredOfferedForSandboxBanks(t *testing.T) {
	a := newAdminApp(t, true)
	admin := a.client()
	admin.login("admin@example.com", "demo-admin")
	r := admin.get("/admin/connections/" + bobAcct)
	if r.status != http.StatusOK || !strings.Contains(r.body, `data-testid="action-force-refresh-required"`) {
		t.Fatalf("a sandbox bank's connected account: got %d, want the force action offered", r.status)
	}
	if r := admin.get("/admin/connections/" + bobAcct + "/confirm/force-refresh-required"); r.status != http.StatusOK {
		t.Fatalf("confirm page: got %d, want 200", r.status)
	}
}
