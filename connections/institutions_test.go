package connections_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/store"
)

// Institution names come from the connections and, where none has one, from
// Plaid's lookup; nothing in the domain knows banks by name.
func TestInstitutionNamesFromConnectionsAndPlaid(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, time.Minute)
	w.plaid.inst = "ins_424242" // a bank no list in the portal knows
	guid := w.link(w.alice.CustomerGUID, "n1")
	if a, _ := w.db.Account(ctx, guid); a.InstitutionID != "ins_424242" || a.InstitutionName != "" {
		t.Fatalf("without a lookup: institution %q named %q, want ins_424242 unnamed", a.InstitutionID, a.InstitutionName)
	}

	var mu sync.Mutex
	asked := map[string]int{}
	fail := true
	lookup := func(_ context.Context, id string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		asked[id]++
		if fail {
			return "", errors.New("plaid is down")
		}
		return "Credit Union of Elsewhere", nil
	}
	now := time.Now()
	svc := connections.New(slog.New(slog.NewTextHandler(io.Discard, nil)), w.db, w.bank, connections.Config{BankGUID: w.bankGUID, Institutions: lookup})
	svc.SetClock(func() time.Time { return now })

	// A failed lookup fails nothing and is not repeated at once.
	for i := 0; i < 2; i++ {
		if err := svc.Sync(ctx); err != nil {
			t.Fatalf("sync with Plaid down: %v", err)
		}
	}
	if a, _ := w.db.Account(ctx, guid); a.InstitutionName != "" || asked["ins_424242"] != 1 {
		t.Fatalf("after a failed lookup: name %q, lookups %d; want unnamed, 1 lookup", a.InstitutionName, asked["ins_424242"])
	}
	now = now.Add(11 * time.Minute)
	mu.Lock()
	fail = false
	mu.Unlock()
	if err := svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := w.db.Account(ctx, guid); a.InstitutionName != "Credit Union of Elsewhere" {
		t.Fatalf("after the lookup: name %q", a.InstitutionName)
	}
	// A second connection at the same bank takes the known name: no lookup.
	second := w.link("", "n2")
	if err := svc.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := w.db.Account(ctx, second); a.InstitutionName != "Credit Union of Elsewhere" || asked["ins_424242"] != 2 {
		t.Fatalf("second connection: name %q after %d lookups; want the known name, no new lookup", a.InstitutionName, asked["ins_424242"])
	}

	// The admin filter lists the institutions of the connections, no others.
	got, err := w.admin.Institutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.Institution{{ID: "ins_424242", Name: "Credit Union of Elsewhere"}}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("institutions: got %+v, want %+v", got, want)
	}
}
