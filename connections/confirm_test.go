package connections_test

import (
	"context"
	"testing"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	"github.com/bankconnections/portal/store"
)

// TestReconnectIsConfirmedWithTheBank: a browser may say Link succeeded
// while the bank login is still broken (a forged or confused result). After
// the PATCH the portal asks the platform to pull data through the bank, and
// shows the state the platform then reports instead of "Connected".
func TestReconnectIsConfirmedWithTheBank(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	e.breakLogin(a.GUID)
	ls := e.readySession(e.alice, connections.ModeUpdate, a.GUID)
	res, err := e.svc.Complete(ctx, e.alice, ls.ID, connections.Success{PublicToken: "public-sandbox-update", InstitutionID: "ins_109508"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "done" || res.State != store.StateRefreshRequired {
		t.Fatalf("completion with the login still broken: got %+v, want done and refresh_required", res)
	}
	if got := e.local(a.GUID).State; got != store.StateRefreshRequired {
		t.Fatalf("local state: got %s, want refresh_required", got)
	}
	if pa, _ := e.bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{}); pa.State != rules.RefreshRequired {
		t.Fatalf("platform state: got %s, want refresh_required", pa.State)
	}
	if list, _ := e.db.CustomerAccounts(ctx, e.alice.CustomerGUID); len(list) != 1 || list[0].State != store.StateRefreshRequired {
		t.Fatalf("alice's page rows: got %+v, want one refresh_required", list)
	}
}
