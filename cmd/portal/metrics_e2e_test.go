package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	simplatform "github.com/bankconnections/portal/sim/platform"
)

// scrape reads the portal's /metrics and parses it as Prometheus would.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: got %d %s", url, res.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// series returns the family's series whose labels include want, with their
// value (a histogram's count).
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) []float64 {
	var out []float64
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			out = append(out, m.GetCounter().GetValue())
		case m.Gauge != nil:
			out = append(out, m.GetGauge().GetValue())
		case m.Histogram != nil:
			out = append(out, float64(m.GetHistogram().GetSampleCount()))
		}
	}
	return out
}

// one is the value of the one series matching want; the test fails unless there is exactly one.
func one(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	got := series(fams, name, want)
	if len(got) != 1 {
		t.Fatalf("%s%v: got %d series, want 1", name, want, len(got))
	}
	return got[0]
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var rawGUID = regexp.MustCompile(`[0-9a-f]{32}`)

// TestMetricsAfterALinkFlow runs the real binary with -metrics-addr, makes a
// reconnect wait behind a platform fault and finish after it, and reads every
// family from /metrics; the public address does not serve them.
func TestMetricsAfterALinkFlow(t *testing.T) {
	metricsAddr := "127.0.0.1:" + freePort(t)
	p := startPortal(t, "PORTAL_SYNC_INTERVAL=1s", "PORTAL_METRICS_ADDR="+metricsAddr)
	metricsURL := "http://" + metricsAddr + "/metrics"
	ctx := context.Background()
	sb := simplatform.Sandbox{BaseURL: p.PlatformURL}

	for _, path := range []string{"/metrics", "/metrics/"} {
		if status, body := get(t, p.URL+path); status != http.StatusNotFound || strings.Contains(body, "portal_") {
			t.Errorf("public %s: got %d, want 404 without metrics", path, status)
		}
	}

	alice := signIn(t, p.URL, "alice@example.com", "demo-alice")
	var expired string
	for guid, state := range alice.accountStates() {
		if state == "refresh_required" {
			expired = guid
		}
	}
	if expired == "" {
		t.Fatal("alice has no refresh_required connection to reconnect")
	}
	// The platform refuses PATCHes: the reconnect is recorded and queued.
	if err := sb.SetFaults(ctx, []simplatform.Fault{{Method: http.MethodPatch, PathPrefix: "/api/external_bank_accounts", Status: http.StatusInternalServerError}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.ClearFaults(ctx) })
	reconnectQueued(t, alice, expired)
	fams := scrape(t, metricsURL)
	if got := one(t, fams, "portal_completions_queued", nil); got != 1 {
		t.Errorf("portal_completions_queued during the fault: got %v, want 1", got)
	}
	if got := one(t, fams, "portal_platform_requests_total", map[string]string{"operation": "PATCH /api/external_bank_accounts/:guid", "outcome": "5xx"}); got < 1 {
		t.Errorf("refused PATCHes counted: got %v, want at least 1", got)
	}

	if err := sb.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "the queued reconnect to finish after the fault", func() bool {
		return one(t, scrape(t, metricsURL), "portal_completions_queued", nil) == 0
	})
	fams = scrape(t, metricsURL)

	// Requests by route pattern: the Link flow's routes, never a raw id.
	for _, route := range []string{"/login", "/accounts", "/link/sessions", "/link/sessions/:id", "/link/sessions/:id/complete"} {
		if n := series(fams, "portal_http_request_duration_seconds", map[string]string{"route": route}); len(n) == 0 || n[0] < 1 {
			t.Errorf("requests of route %s: got %v, want at least one", route, n)
		}
	}
	for _, m := range fams["portal_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if rawGUID.MatchString(l.GetValue()) {
				t.Errorf("request label %s=%q holds an id: routes must be patterns", l.GetName(), l.GetValue())
			}
		}
	}
	// Platform calls by operation and outcome.
	for _, op := range []struct{ operation, outcome string }{
		{"POST /oauth/token", "2xx"},
		{"POST /api/workflows", "2xx"},
		{"GET /api/external_bank_accounts", "2xx"},
		{"PATCH /api/external_bank_accounts/:guid", "5xx"},
		{"PATCH /api/external_bank_accounts/:guid", "2xx"},
	} {
		if got := one(t, fams, "portal_platform_requests_total", map[string]string{"operation": op.operation, "outcome": op.outcome}); got < 1 {
			t.Errorf("platform %s → %s: got %v, want at least 1", op.operation, op.outcome, got)
		}
	}
	if n := series(fams, "portal_platform_request_duration_seconds", map[string]string{"operation": "PATCH /api/external_bank_accounts/:guid"}); len(n) != 1 || n[0] < 2 {
		t.Errorf("PATCH durations observed: got %v, want at least 2", n)
	}
	for _, m := range fams["portal_platform_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if rawGUID.MatchString(l.GetValue()) {
				t.Errorf("platform label %s=%q holds an id", l.GetName(), l.GetValue())
			}
		}
	}
	// The queues, read from the store.
	if got := one(t, fams, "portal_completions_retried_total", nil); got < 1 {
		t.Errorf("portal_completions_retried_total: got %v, want at least 1 (the reconnect took two attempts)", got)
	}
	if got := one(t, fams, "portal_completions_failed_total", nil); got != 0 {
		t.Errorf("portal_completions_failed_total: got %v, want 0", got)
	}
	if got := one(t, fams, "portal_outbox_depth", nil); got < 0 {
		t.Errorf("portal_outbox_depth: got %v", got)
	}
	one(t, fams, "portal_outbox_failed_total", nil)
	// The sync runs every second here.
	if got := one(t, fams, "portal_sync_lag_seconds", nil); got < 0 || got > 30 {
		t.Errorf("portal_sync_lag_seconds: got %v, want 0..30 with a 1 s interval", got)
	}
	if got := one(t, fams, "portal_sync_last_success_timestamp_seconds", nil); time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("portal_sync_last_success_timestamp_seconds: got %v, want within the last minute", got)
	}
	// The database pools.
	for _, pool := range []string{"read", "write"} {
		if got := one(t, fams, "portal_db_pool_open_connections", map[string]string{"pool": pool}); got < 1 {
			t.Errorf("open connections of the %s pool: got %v, want at least 1", pool, got)
		}
		if got := one(t, fams, "portal_db_pool_max_open_connections", map[string]string{"pool": pool}); got < 1 {
			t.Errorf("max open connections of the %s pool: got %v, want at least 1", pool, got)
		}
		for _, name := range []string{"portal_db_pool_in_use_connections", "portal_db_pool_idle_connections", "portal_db_pool_waits_total", "portal_db_pool_wait_seconds_total"} {
			one(t, fams, name, map[string]string{"pool": pool})
		}
	}
	t.Logf("metrics: %d families after the Link flow", len(fams))
}

// TestReadyzFollowsThePlatformToken has /readyz of the real binary answer
// 503 naming the platform token while the simulator's token endpoint fails,
// and 200 again after.
func TestReadyzFollowsThePlatformToken(t *testing.T) {
	p := startPortal(t)
	ctx := context.Background()
	sb := simplatform.Sandbox{BaseURL: p.PlatformURL}
	if status, body := get(t, p.URL+"/readyz"); status != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz: got %d %q, want 200 ready", status, body)
	}
	if err := sb.SetFaults(ctx, []simplatform.Fault{{PathPrefix: "/oauth/token", Status: http.StatusServiceUnavailable}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.ClearFaults(ctx) })
	var body string
	poll(t, 60*time.Second, "/readyz to answer 503 while the token endpoint fails", func() bool {
		var status int
		status, body = get(t, p.URL+"/readyz")
		return status == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "platform token") || strings.Contains(body, "database") {
		t.Errorf("/readyz body: got %q, want it to name the platform token only", body)
	}
	if status, _ := get(t, p.URL+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz during the token fault: got %d, want 200 (the process is alive)", status)
	}
	if err := sb.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "/readyz to answer 200 after the fault", func() bool {
		status, _ := get(t, p.URL+"/readyz")
		return status == http.StatusOK
	})
}
