package metrics_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankconnections/portal/metrics"
	"github.com/bankconnections/portal/store"
)

func TestOperationKeepsThePathPattern(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/api/external_bank_accounts", "GET /api/external_bank_accounts"},
		{"PATCH", "/api/external_bank_accounts/0123456789abcdef0123456789abcdef", "PATCH /api/external_bank_accounts/:guid"},
		{"POST", "/api/external_bank_accounts/0123456789abcdef0123456789abcdef/balances", "POST /api/external_bank_accounts/:guid/balances"},
		{"GET", "/api/workflows/ffffffffffffffffffffffffffffffff", "GET /api/workflows/:guid"},
		{"POST", "/oauth/token", "POST /oauth/token"},
		{"GET", "/api/things/12345", "GET /api/things/:id"},
		{"GET", "/api/things/AbC", "GET /api/things/:id"},
		{"GET", "/api/things/" + strings.Repeat("x", 41), "GET /api/things/:id"},
	} {
		if got := metrics.Operation(tt.method, tt.path); got != tt.want {
			t.Errorf("Operation(%s, %s): got %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

// fakeSource is the store as func fields.
type fakeSource struct {
	queueStats func(context.Context) (store.QueueStats, error)
	job        func(context.Context, string) (store.JobStatus, error)
}

var _ metrics.Source = (*fakeSource)(nil)

func (f *fakeSource) QueueStats(ctx context.Context) (store.QueueStats, error) {
	return f.queueStats(ctx)
}
func (f *fakeSource) Job(ctx context.Context, name string) (store.JobStatus, error) {
	return f.job(ctx, name)
}
func (f *fakeSource) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"read": {MaxOpenConnections: 4, OpenConnections: 2, InUse: 1, Idle: 1}}
}

func scrape(t *testing.T, m *metrics.Metrics) (int, string) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A made-up method makes no series of its own; a store that cannot be read
// leaves its families out and the rest is still served.
func TestScrapeBoundsLabelsAndSurvivesAStoreError(t *testing.T) {
	var failing atomic.Bool
	src := &fakeSource{
		queueStats: func(context.Context) (store.QueueStats, error) {
			if failing.Load() {
				return store.QueueStats{}, errors.New("database is closed")
			}
			return store.QueueStats{Completions: map[string]int{"queued": 3, "failed": 1}, CompletionsRetried: 2, Outbox: map[string]int{"queued": 5}}, nil
		},
		job: func(_ context.Context, name string) (store.JobStatus, error) {
			if name != "sync" {
				t.Errorf("job asked for: got %q, want sync", name)
			}
			last := time.Now().Add(-42 * time.Second)
			return store.JobStatus{Name: name, LastOKAt: &last}, nil
		},
	}
	m := metrics.New(slog.New(slog.DiscardHandler), src, "sync")
	m.ObserveRequest("GET", "/accounts/:guid", 200, 3*time.Millisecond)
	for _, method := range []string{"BREW", "PROPFIND", "X-A"} {
		m.ObserveRequest(method, "(unmatched)", 404, time.Millisecond)
	}
	status, body := scrape(t, m)
	for _, want := range []string{
		`portal_http_request_duration_seconds_count{code="200",method="GET",route="/accounts/:guid"} 1`,
		`portal_http_request_duration_seconds_count{code="404",method="other",route="(unmatched)"} 3`,
		"portal_completions_queued 3",
		"portal_completions_retried_total 2",
		"portal_completions_failed_total 1",
		"portal_outbox_depth 5",
		"portal_outbox_failed_total 0",
		`portal_db_pool_in_use_connections{pool="read"} 1`,
		"portal_sync_lag_seconds 4",
	} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("scrape: got %d, want a line starting %q", status, want)
		}
	}
	if strings.Contains(body, "BREW") {
		t.Error("a made-up method became a label value")
	}

	failing.Store(true)
	status, body = scrape(t, m)
	if status != http.StatusOK || strings.Contains(body, "portal_completions_queued ") || !strings.Contains(body, "portal_sync_lag_seconds") {
		t.Errorf("store error: got %d, want 200 without the queue families and with the rest", status)
	}
}

func TestTransportCountsByOperationAndOutcome(t *testing.T) {
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			http.Error(w, "injected", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer platform.Close()
	m := metrics.New(slog.New(slog.DiscardHandler), &fakeSource{
		queueStats: func(context.Context) (store.QueueStats, error) { return store.QueueStats{}, nil },
		job:        func(context.Context, string) (store.JobStatus, error) { return store.JobStatus{}, nil },
	}, "sync")
	c := &http.Client{Transport: m.Transport(nil)}
	guid := strings.Repeat("ab", 16)
	for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodPatch} {
		req, _ := http.NewRequest(method, platform.URL+"/api/external_bank_accounts/"+guid, nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if _, err := c.Get("http://127.0.0.1:1/oauth/token"); err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	_, body := scrape(t, m)
	for _, want := range []string{
		`portal_platform_requests_total{operation="GET /api/external_bank_accounts/:guid",outcome="2xx"} 1`,
		`portal_platform_requests_total{operation="PATCH /api/external_bank_accounts/:guid",outcome="5xx"} 2`,
		`portal_platform_requests_total{operation="GET /oauth/token",outcome="error"} 1`,
		`portal_platform_request_duration_seconds_count{operation="PATCH /api/external_bank_accounts/:guid"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape: want the line %q", want)
		}
	}
	if strings.Contains(body, guid) {
		t.Error("a guid became a label value")
	}
}

// The cost a request pays for being measured (run with -bench).
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New(slog.New(slog.DiscardHandler), &fakeSource{}, "sync")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("GET", "/accounts/:guid", 200, 3*time.Millisecond)
		}
	})
}
