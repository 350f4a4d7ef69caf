package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bankconnections/portal/handlers"
)

// fakeReadiness is the platform check as a func field.
type fakeReadiness struct{ ready func(context.Context) error }

var _ handlers.Readiness = (*fakeReadiness)(nil)

func (f *fakeReadiness) Ready(ctx context.Context) error { return f.ready(ctx) }

// /readyz names what is down in a plain body, without the error's text (it may
// name hosts or carry a platform message); /healthz answers for the process.
func TestReadyzNamesWhatIsDown(t *testing.T) {
	platformErr := errors.New("dial tcp id.internal.example:443: connection refused")
	var platformDown atomic.Bool
	a := newAppWithDeps(t, func(d *handlers.Deps) {
		d.Ready = &fakeReadiness{ready: func(context.Context) error {
			if platformDown.Load() {
				return platformErr
			}
			return nil
		}}
	}, nil)
	c := a.client()
	if r := c.get("/readyz"); r.status != http.StatusOK || r.body != "ready\n" {
		t.Fatalf("all up: got %d %q, want 200 ready", r.status, r.body)
	}
	platformDown.Store(true)
	r := c.get("/readyz")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "platform token") || strings.Contains(r.body, "database") {
		t.Errorf("platform down: got %d %q, want 503 naming the platform token only", r.status, r.body)
	}
	if strings.Contains(r.body, "id.internal.example") {
		t.Errorf("platform down: the body %q carries the error's text", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type: got %q, want text/plain", ct)
	}
	platformDown.Store(false)
	a.db.Close()
	r = c.get("/readyz")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "database") || strings.Contains(r.body, "platform") {
		t.Errorf("database closed: got %d %q, want 503 naming the database only", r.status, r.body)
	}
}

// Metrics are never part of the public stack, whatever the role.
func TestNoMetricsOnThePublicStack(t *testing.T) {
	a := newApp(t)
	c := a.client()
	if r := c.login("admin@example.com", "demo-admin"); r.status != http.StatusSeeOther {
		t.Fatalf("admin login: got %d", r.status)
	}
	for _, path := range []string{"/metrics", "/metrics/", "/debug/vars", "/debug/pprof/"} {
		if r := c.get(path); r.status != http.StatusNotFound {
			t.Errorf("GET %s as the admin: got %d, want 404", path, r.status)
		}
	}
}
