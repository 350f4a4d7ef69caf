package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

func quoted(key, customer, account string, cents int64) store.Transfer {
	return store.Transfer{Key: key, CustomerGUID: customer, AccountGUID: account, Side: "deposit", Rail: "ach", Amount: cents,
		QuoteGUID: "q-" + key, QuoteExpiresAt: time.Now().Add(5 * time.Minute)}
}

func TestTransferConfirmedOnce(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tr, err := db.CreateQuotedTransfer(ctx, quoted("k1", "alice", "acct", 2500))
		if err != nil || tr.State != store.TransferQuoted || tr.Amount != 2500 {
			t.Fatalf("CreateQuotedTransfer: got %+v, %v", tr, err)
		}
		if _, err := db.CreateQuotedTransfer(ctx, quoted("k1", "alice", "acct", 2500)); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same key again: got %v, want ErrConflict", err)
		}
		// Two submits of one form at the same moment: exactly one claims it.
		var wg sync.WaitGroup
		var mu sync.Mutex
		claims := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ClaimTransfer(ctx, "alice", "k1")
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					claims++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if claims != 1 {
			t.Fatalf("claims of one confirm form: got %d, want 1", claims)
		}
		if ok, _ := db.ClaimTransfer(ctx, "bob", "k1"); ok {
			t.Fatal("bob claimed alice's transfer")
		}
		if _, err := db.CustomerTransfer(ctx, "bob", "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("bob reading alice's transfer: got %v, want ErrNotFound", err)
		}
		got, err := db.CustomerTransfer(ctx, "alice", "k1")
		if err != nil || got.State != store.TransferSubmitting {
			t.Fatalf("after the claim: got %+v, %v, want submitting", got, err)
		}
	})
}

func TestTransferValuesAreChecked(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for name, tr := range map[string]store.Transfer{
			"zero amount":     quoted("z", "alice", "acct", 0),
			"negative amount": quoted("n", "alice", "acct", -100),
			"unknown side":    func() store.Transfer { t := quoted("s", "alice", "acct", 1); t.Side = "buy"; return t }(),
			"unknown rail":    func() store.Transfer { t := quoted("r", "alice", "acct", 1); t.Rail = "rtp"; return t }(),
		} {
			if _, err := db.CreateQuotedTransfer(ctx, tr); err == nil {
				t.Errorf("%s: got nil error, want the insert refused", name)
			}
		}
		if n, _ := db.RecentTransfers(ctx, "alice", "", 10); len(n) != 0 {
			t.Errorf("transfers after refused inserts: got %d, want 0", len(n))
		}
	})
}

func TestRecentAndOpenTransfers(t *testing.T) {
	store.EachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, k := range []string{"a", "b", "c"} {
			if _, err := db.CreateQuotedTransfer(ctx, quoted(k, "alice", "acct-"+k, 100)); err != nil {
				t.Fatal(err)
			}
		}
		db.ClaimTransfer(ctx, "alice", "a")
		db.ClaimTransfer(ctx, "alice", "b")
		a, _ := db.CustomerTransfer(ctx, "alice", "a")
		b, _ := db.CustomerTransfer(ctx, "alice", "b")
		if err := db.RecordTransfer(ctx, a.ID, "guid-a", store.TransferPending, ""); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordTransfer(ctx, b.ID, "guid-b", store.TransferFailed, "refresh_required"); err != nil {
			t.Fatal(err)
		}
		// A final state stays final, even if a late answer says otherwise.
		if err := db.RecordTransfer(ctx, b.ID, "guid-b", store.TransferPending, ""); err != nil {
			t.Fatal(err)
		}
		recent, err := db.RecentTransfers(ctx, "alice", "", 10)
		if err != nil || len(recent) != 2 || recent[0].Key != "b" || recent[1].Key != "a" {
			t.Fatalf("recent: got %+v, %v, want b then a (the unconfirmed quote left out)", recent, err)
		}
		if recent[0].State != store.TransferFailed || recent[0].FailureCode != "refresh_required" || recent[0].TransferGUID != "guid-b" {
			t.Errorf("b: got %+v, want failed/refresh_required", recent[0])
		}
		if one, _ := db.RecentTransfers(ctx, "alice", "acct-a", 10); len(one) != 1 || one[0].Key != "a" {
			t.Errorf("one account's: got %+v, want only a", one)
		}
		if other, _ := db.RecentTransfers(ctx, "bob", "", 10); len(other) != 0 {
			t.Errorf("bob's: got %d, want 0", len(other))
		}
		open, err := db.OpenTransfers(ctx, 10)
		if err != nil || len(open) != 1 || open[0].Key != "a" || !open[0].Open() {
			t.Errorf("open: got %+v, %v, want only a", open, err)
		}
	})
}
