package simplatform

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/bankconnections/portal/internal/testutil"
)

func TestFaultsExpire(t *testing.T) {
	ts := newTestSim(t, t.TempDir())
	sb := Sandbox{BaseURL: ts.url}
	err := sb.SetFaults(context.Background(), []Fault{
		{PathPrefix: "/api/customers", Status: http.StatusServiceUnavailable, ForMS: 2000},
		{PathPrefix: "/api/customers", Status: http.StatusInternalServerError},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.do(t, "GET", "/api/customers", nil, nil); got != http.StatusServiceUnavailable {
		t.Fatalf("while the first fault lasts: got %d, want 503", got)
	}
	// Once it expired, the next fault answers (it has no end).
	testutil.EventuallyEvery(t, 10*time.Second, 50*time.Millisecond, func() error {
		if got := ts.do(t, "GET", "/api/customers", nil, nil); got != http.StatusInternalServerError {
			return fmt.Errorf("the fault with for_ms never expired: got %d, want 500", got)
		}
		return nil
	})
	if err := sb.SetFaults(context.Background(), []Fault{{PathPrefix: "/api/", Status: 500, ForMS: -1}}); err == nil {
		t.Error("a negative for_ms was accepted")
	}
}

// TestSnapshotAndRestore: the demo's reset of the simulator.
func TestSnapshotAndRestore(t *testing.T) {
	ctx := context.Background()
	ts := newTestSim(t, t.TempDir())
	sb := Sandbox{BaseURL: ts.url}
	seeded := ts.link(t, "seeded")
	ts.waitForState(t, seeded.GUID, stateCompleted)
	snap := filepath.Join(t.TempDir(), "seed.db")
	if err := ts.Snapshot(ctx, snap); err != nil {
		t.Fatal(err)
	}
	later := ts.link(t, "later")
	var expired struct {
		UpdatedAt time.Time `json:"updated_at"`
	}
	if status := ts.do(t, "PATCH", "/api/external_bank_accounts/"+seeded.GUID, map[string]string{"state": stateRefreshRequired}, &expired); status != http.StatusOK {
		t.Fatalf("force refresh_required: got %d", status)
	}
	expiredAt := expired.UpdatedAt
	if err := sb.SetFaults(ctx, []Fault{{PathPrefix: "/api/customers", Status: 500}}); err != nil {
		t.Fatal(err)
	}

	var list struct {
		Total   int           `json:"total"`
		Objects []accountView `json:"objects"`
	}
	ts.do(t, "GET", "/api/external_bank_accounts", nil, &list) // the list's pages are cached
	if err := ts.Restore(ctx, snap); err != nil {
		t.Fatal(err)
	}
	// The bank token issued before still works: the identity was kept. The
	// account is as seeded, but newer than anything a client saw before.
	var back struct {
		State     string    `json:"state"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	ts.do(t, "GET", "/api/external_bank_accounts/"+seeded.GUID, nil, &back)
	if back.State != stateCompleted {
		t.Errorf("seeded account after the restore: got %q, want completed", back.State)
	}
	if back.UpdatedAt.Before(expiredAt) {
		t.Errorf("updated_at after the restore: got %s, want no earlier than %s (the expiry before it)", back.UpdatedAt, expiredAt)
	}
	if status := ts.do(t, "GET", "/api/external_bank_accounts/"+later.GUID, nil, nil); status != http.StatusNotFound {
		t.Errorf("account made after the snapshot: got %d, want 404", status)
	}
	list.Total, list.Objects = 0, nil
	ts.do(t, "GET", "/api/external_bank_accounts", nil, &list)
	if list.Total != 1 || len(list.Objects) != 1 || list.Objects[0].GUID != seeded.GUID {
		t.Errorf("list after the restore (cached totals included): got %d %+v, want only the seeded account", list.Total, list.Objects)
	}
	if status := ts.do(t, "GET", "/api/customers", nil, nil); status != http.StatusOK {
		t.Errorf("faults after the restore: got %d, want 200 (cleared)", status)
	}
	if tok, err := ts.AccountAccessToken(ctx, seeded.GUID); err != nil || tok != "access-seeded" {
		t.Errorf("access token: got %q, %v; want access-seeded", tok, err)
	}
	if _, err := ts.AccountAccessToken(ctx, later.GUID); err == nil {
		t.Error("access token of a restored-away account: got no error")
	}
}
