package world_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplaid "github.com/bankconnections/portal/sim/plaid"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/sim/world"
)

// TestWorldLinksAnAccountThroughBothSimulatorsOverHTTP: an account linked at
// the stand-in is stored by the platform simulator, which exchanges its
// public token with the stand-in through plaid-go; every platform request
// passes the wrapper; after Close neither server answers.
func TestWorldLinksAnAccountThroughBothSimulatorsOverHTTP(t *testing.T) {
	ctx := context.Background()
	var wrapped atomic.Int64
	w, err := world.New(ctx, world.Config{
		StandIn:  simplaid.Config{RefreshDelay: -1},
		Platform: simplatform.Config{DataDir: t.TempDir(), StoringDelay: 10 * time.Millisecond},
		WrapPlatform: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { wrapped.Add(1); h.ServeHTTP(rw, r) })
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	if w.StandIn == nil || w.PlaidAPI.BaseURL != w.StandInURL || w.PlaidAPI.ClientID != w.StandIn.ClientID() {
		t.Fatalf("plaid-go's Plaid: got %+v, want the stand-in at %s", w.PlaidAPI, w.StandInURL)
	}
	bank := platform.New(platform.Config{BaseURL: w.PlatformURL, TokenURL: w.PlatformURL + "/oauth/token",
		ClientID: w.Platform.ClientID(), ClientSecret: w.Platform.ClientSecret()})
	cust, err := bank.CreateCustomer(ctx, platform.CreateCustomerRequest{Type: platform.CustomerTypeIndividual, FirstName: "Ada", LastName: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := w.StandIn.SandboxLinkAccount("ins_109508", 0, w.PlatformURL+"/plaid/webhook")
	if err != nil {
		t.Fatal(err)
	}
	a, err := bank.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: link.AccountName, AccountKind: platform.AccountKindPlaid,
		Asset: "USD", CustomerGUID: cust.GUID, PlaidPublicToken: link.PublicToken, PlaidAccountID: link.AccountID})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, func() error {
		got, err := bank.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{})
		if err != nil || got.State != rules.Completed {
			return errors.New("account " + a.GUID + ": state " + got.State + ", want completed")
		}
		return nil
	})
	if wrapped.Load() == 0 {
		t.Error("no platform request passed the wrapper")
	}

	w.Close()
	for _, u := range []string{w.PlatformURL + "/oauth/token", w.StandInURL + "/institutions/get"} {
		if res, err := http.Post(u, "application/json", nil); err == nil {
			res.Body.Close()
			t.Errorf("POST %s after Close: got %d, want no answer", u, res.StatusCode)
		}
	}
}

// TestWorldWithAGivenPlaidStartsNoStandIn: a test's own Plaid replaces the
// stand-in and plaid-go.
func TestWorldWithAGivenPlaidStartsNoStandIn(t *testing.T) {
	w, err := world.New(context.Background(), world.Config{Plaid: nopPlaid{}, Platform: simplatform.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.StandIn != nil || w.StandInURL != "" || w.PlaidAPI.BaseURL != "" {
		t.Fatalf("stand-in started beside a given Plaid: %v %q %+v", w.StandIn, w.StandInURL, w.PlaidAPI)
	}
	res, err := http.Post(w.PlatformURL+"/oauth/token", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("token request without a grant: got %d, want 400", res.StatusCode)
	}
}

// nopPlaid is a Plaid the test never reaches (its methods are the nil
// interface's): starting the world must not call Plaid.
type nopPlaid struct{ simplatform.Plaid }
