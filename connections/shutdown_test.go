package connections_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/internal/testutil"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/store"
)

// inFlight passes requests to the real transport and counts those that have
// not returned yet, by "METHOD path".
type inFlight struct {
	base    http.RoundTripper
	mu      sync.Mutex
	running map[string]int
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	if f.running == nil {
		f.running = map[string]int{}
	}
	f.running[key]++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[key]--
		f.mu.Unlock()
	}()
	return f.base.RoundTrip(r)
}

// count is the number of running requests whose "METHOD path" starts with prefix.
func (f *inFlight) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k, v := range f.running {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// The end of Run (shutdown) cancels the background work started off the
// request path and waits for it: when Run returns, no removal watcher,
// refresh or link-token poll is still calling the platform or about to
// write, so the database can be closed.
func TestShutdownCancelsAndWaitsForBackgroundWork(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 10*time.Minute)
	refreshing := w.link(w.alice.CustomerGUID, "r1")
	removing := w.link(w.alice.CustomerGUID, "d1")
	// The platform holds every read of the two connections until the caller gives up.
	get := http.MethodGet + " /api/external_bank_accounts/"
	if err := w.sandbox.SetFaults(ctx, []simplatform.Fault{
		{Method: http.MethodGet, PathPrefix: "/api/external_bank_accounts/" + refreshing, Timeout: true},
		{Method: http.MethodGet, PathPrefix: "/api/external_bank_accounts/" + removing, Timeout: true},
		{Method: http.MethodGet, PathPrefix: "/api/workflows/", Timeout: true},
	}); err != nil {
		t.Fatal(err)
	}

	runCtx, shutdown := context.WithCancel(ctx)
	defer shutdown()
	ran := make(chan struct{})
	go func() { defer close(ran); w.svc.Run(runCtx) }()

	if _, err := w.admin.Disconnect(ctx, w.boss, removing); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if _, err := w.admin.StartRefresh(ctx, w.boss, refreshing); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	ls, err := w.svc.StartLink(ctx, w.alice, connections.ModeCreate, "")
	if err != nil {
		t.Fatalf("start link: %v", err)
	}
	testutil.Eventually(t, 30*time.Second, func() error {
		r, f, l := w.calls.count(get+removing), w.calls.count(get+refreshing), w.calls.count("GET /api/workflows/")
		if r != 1 || f != 1 || l != 1 {
			return fmt.Errorf("reads waiting on the platform: got %d of the removal watcher, %d of the refresh, %d of the link-token poll; want 1 each", r, f, l)
		}
		return nil
	})

	shutdown()
	select {
	case <-ran:
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not return after its context ended")
	}
	if n := w.calls.count("GET "); n != 0 {
		t.Fatalf("platform reads still running after Run returned: got %d, want 0", n)
	}
	// The refresh was cut short by the shutdown, not by its 10-minute bound,
	// and its outcome was written before Run returned.
	j, err := w.db.LatestRefreshJob(ctx, refreshing)
	if err != nil || j.State != store.RefreshFailed || !strings.Contains(j.Message, "stopped") {
		t.Fatalf("refresh job after shutdown: got %+v, %v; want failed: the portal stopped", j, err)
	}
	// So was the link-token poll, and the customer is told to try again.
	if ls, err = w.svc.LinkSession(ctx, w.alice, ls.ID); err != nil || ls.State != store.LinkFailed || !strings.Contains(ls.Message, "restarted") {
		t.Fatalf("link session after shutdown: got %s %q (%v), want failed: the portal restarted", ls.State, ls.Message, err)
	}
	w.admin.Wait() // returns at once: every admin job ended with Run
}
