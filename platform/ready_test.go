package platform_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
	"github.com/bankconnections/portal/platform"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

// Ready asks the token endpoint itself, so it sees an outage the cached API
// token would hide, but no more than once per TTL however often it is asked.
func TestReadyAsksTheTokenEndpointOncePerTTL(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const token = "POST /oauth/token"

	cached := h.newClient(func(c *platform.Config) { c.TokenCheckTTL = time.Hour })
	h.requests.reset()
	for range 20 {
		if err := cached.Ready(ctx); err != nil {
			t.Fatalf("Ready: %v", err)
		}
	}
	if got := h.requests.count(token); got != 1 {
		t.Errorf("token requests for 20 checks within the TTL: got %d, want 1", got)
	}

	// An API call has cached a bank token; the endpoint then fails.
	short := h.newClient(func(c *platform.Config) { c.TokenCheckTTL = 50 * time.Millisecond })
	if _, err := short.ListExternalBankAccounts(ctx, platform.ListAccountsParams{PerPage: 1}); err != nil {
		t.Fatalf("list accounts: %v", err)
	}
	if err := h.sandbox.SetFaults(ctx, []simplatform.Fault{{PathPrefix: "/oauth/token", Status: http.StatusServiceUnavailable}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.sandbox.ClearFaults(ctx) })
	testutil.Eventually(t, 10*time.Second, func() error {
		err := short.Ready(ctx)
		var pe *platform.Error
		if !errors.As(err, &pe) || pe.Status != http.StatusServiceUnavailable {
			return errors.New("Ready during a token endpoint fault: got " + errString(err) + ", want the 503")
		}
		return nil
	})
	if _, err := short.ListExternalBankAccounts(ctx, platform.ListAccountsParams{PerPage: 1}); err != nil {
		t.Errorf("the API calls keep their cached token during the fault: %v", err)
	}
	if err := h.sandbox.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if err := short.Ready(ctx); err != nil {
			return errors.New("Ready after the fault ended: " + err.Error())
		}
		return nil
	})
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
