package platform_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplatform "github.com/bankconnections/portal/sim/platform"
)

func TestRetriesAndFaults(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	a := h.linkAccount(t, "", "faults")
	h.waitForState(t, a.GUID, rules.Completed)
	const maxRetries = 2
	client := h.newClient(func(c *platform.Config) {
		c.MaxRetries = maxRetries
		c.RetryBase = time.Millisecond
		c.AttemptTimeout = 150 * time.Millisecond
	})
	// The first call only fetches the token, so faults below see API calls alone.
	if _, err := client.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{}); err != nil {
		t.Fatalf("warm up: %v", err)
	}
	accountPath := "/api/external_bank_accounts/" + a.GUID
	get := func() error {
		_, err := client.GetExternalBankAccount(ctx, a.GUID, platform.GetAccountOptions{})
		return err
	}
	patch := func() error {
		_, err := client.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.Completed})
		return err
	}
	create := func() error {
		_, err := client.CreateExternalBankAccount(ctx, platform.CreateAccountRequest{Name: "n", AccountKind: "plaid", Asset: "USD",
			PlaidPublicToken: "public-post", PlaidAccountID: "acct-post"})
		return err
	}
	del := func() error { _, err := client.DeleteExternalBankAccount(ctx, a.GUID); return err }

	tests := []struct {
		name      string
		fault     simplatform.Fault
		call      func() error
		key       string
		wantCalls int
		wantCode  int // 0: no response (timeout)
	}{
		{"GET 500 retried", simplatform.Fault{Method: "GET", PathPrefix: "/api/", Status: 500}, get, "GET " + accountPath, 1 + maxRetries, 500},
		{"GET 429 retried", simplatform.Fault{Method: "GET", PathPrefix: "/api/", Status: 429}, get, "GET " + accountPath, 1 + maxRetries, 429},
		{"GET timeout retried", simplatform.Fault{Method: "GET", PathPrefix: "/api/", Timeout: true}, get, "GET " + accountPath, 1 + maxRetries, 0},
		{"PATCH 500 retried", simplatform.Fault{Method: "PATCH", PathPrefix: "/api/", Status: 500}, patch, "PATCH " + accountPath, 1 + maxRetries, 500},
		{"PATCH 503 retried", simplatform.Fault{Method: "PATCH", PathPrefix: "/api/", Status: 503}, patch, "PATCH " + accountPath, 1 + maxRetries, 503},
		{"PATCH timeout retried", simplatform.Fault{Method: "PATCH", PathPrefix: "/api/", Timeout: true}, patch, "PATCH " + accountPath, 1 + maxRetries, 0},
		{"GET 400 not retried", simplatform.Fault{Method: "GET", PathPrefix: "/api/", Status: 400}, get, "GET " + accountPath, 1, 400},
		{"POST 500 sent once", simplatform.Fault{Method: "POST", PathPrefix: "/api/", Status: 500}, create, "POST /api/external_bank_accounts", 1, 500},
		{"POST timeout sent once", simplatform.Fault{Method: "POST", PathPrefix: "/api/", Timeout: true}, create, "POST /api/external_bank_accounts", 1, 0},
		{"DELETE 503 sent once", simplatform.Fault{Method: "DELETE", PathPrefix: "/api/", Status: 503}, del, "DELETE " + accountPath, 1, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.sandbox.SetFaults(ctx, []simplatform.Fault{tt.fault}); err != nil {
				t.Fatalf("SetFaults: %v", err)
			}
			t.Cleanup(func() { _ = h.sandbox.ClearFaults(ctx) })
			h.requests.reset()
			err := tt.call()
			var pe *platform.Error
			if !errors.As(err, &pe) || pe.Status != tt.wantCode {
				t.Fatalf("error: got %T %v, want *platform.Error with status %d", err, err, tt.wantCode)
			}
			if tt.wantCode == 0 && pe.MessageCode != platform.CodeRequestTimeout {
				t.Errorf("timeout code: got %q, want %q", pe.MessageCode, platform.CodeRequestTimeout)
			}
			if got := h.requests.count(tt.key); got != tt.wantCalls {
				t.Errorf("requests %s: got %d, want %d", tt.key, got, tt.wantCalls)
			}
			if wantTemp := tt.wantCode == 0 || tt.wantCode >= 500 || tt.wantCode == 429; platform.IsTemporary(err) != wantTemp {
				t.Errorf("IsTemporary: got %v, want %v", !wantTemp, wantTemp)
			}
		})
	}

	t.Run("transient fault then success", func(t *testing.T) {
		if err := h.sandbox.SetFaults(ctx, []simplatform.Fault{{Method: "GET", PathPrefix: "/api/", Status: 502, Count: 2}}); err != nil {
			t.Fatalf("SetFaults: %v", err)
		}
		t.Cleanup(func() { _ = h.sandbox.ClearFaults(ctx) })
		h.requests.reset()
		if err := get(); err != nil {
			t.Fatalf("GET: got %v, want success on the third attempt", err)
		}
		if got := h.requests.count("GET " + accountPath); got != 3 {
			t.Errorf("requests: got %d, want 3", got)
		}
	})

	t.Run("caller's ctx stops retries", func(t *testing.T) {
		if err := h.sandbox.SetFaults(ctx, []simplatform.Fault{{Method: "GET", PathPrefix: "/api/", Status: 500}}); err != nil {
			t.Fatalf("SetFaults: %v", err)
		}
		t.Cleanup(func() { _ = h.sandbox.ClearFaults(ctx) })
		slow := h.newClient(func(c *platform.Config) { c.RetryBase = time.Hour })
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := slow.GetExternalBankAccount(cctx, a.GUID, platform.GetAccountOptions{})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Errorf("got %v after %v, want context.DeadlineExceeded promptly", err, time.Since(start))
		}
	})

	t.Run("non-JSON error body still gives *Error", func(t *testing.T) {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/oauth/token" {
				h.sim.Handler().ServeHTTP(w, r)
				return
			}
			http.Error(w, "upstream connect error", http.StatusBadGateway)
		}))
		defer proxy.Close()
		c := platform.New(platform.Config{BaseURL: proxy.URL, TokenURL: proxy.URL + "/oauth/token",
			ClientID: h.sim.ClientID(), ClientSecret: h.sim.ClientSecret(), MaxRetries: -1})
		_, err := c.GetWorkflow(ctx, strings.Repeat("a", 32))
		pe := wantError(t, err, http.StatusBadGateway, "")
		if pe.ErrorMessage == "" {
			t.Errorf("error_message: got empty, want the status text")
		}
	})
}
