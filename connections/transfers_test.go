package connections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/connections"
	"github.com/bankconnections/portal/platform"
	"github.com/bankconnections/portal/rules"
	simplatform "github.com/bankconnections/portal/sim/platform"
	"github.com/bankconnections/portal/store"
)

func TestParseAmount(t *testing.T) {
	const limit = 1_000_000
	ok := map[string]int64{
		"25": 2500, "25.00": 2500, "25.5": 2550, " $1,250.05 ": 125_005, ".5": 50, "0.01": 1, "10000": 1_000_000, "+3": 300,
	}
	for in, want := range ok {
		if got, err := connections.ParseAmount(in, limit); err != nil || got != want {
			t.Errorf("ParseAmount(%q): got %d, %v, want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                      "Enter an amount",
		"abc":                   "must be a number",
		"1e3":                   "must be a number",
		"12.3.4":                "must be a number",
		"NaN":                   "must be a number",
		".":                     "must be a number",
		"0":                     "greater than zero",
		"0.00":                  "greater than zero",
		"-5":                    "greater than zero",
		"25.001":                "two decimals",
		"10000.01":              "most you can move at once is $10,000.00",
		"99999999999999999999":  "most you can move",
		"-99999999999999999999": "greater than zero",
	}
	for in, want := range bad {
		_, err := connections.ParseAmount(in, limit)
		var ce *connections.Error
		if !errors.As(err, &ce) || ce.Kind != connections.KindRejected || !strings.Contains(ce.Message, want) {
			t.Errorf("ParseAmount(%q): got %v, want a 422 saying %q", in, err, want)
		}
	}
}

// settle polls until the transfer is final.
func (e *env) settle(tx *connections.Transfers, u store.User, key string) store.Transfer {
	e.t.Helper()
	var tr store.Transfer
	e.eventually("transfer final", func() bool {
		if err := tx.Poll(context.Background()); err != nil {
			e.t.Logf("poll: %v", err)
		}
		var err error
		tr, err = tx.Transfer(context.Background(), u, key)
		return err == nil && !tr.Open()
	})
	return tr
}

func TestTransfersOnAnExpiredConnection(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := connections.NewTransfers(e.svc, connections.TransferConfig{})
	a := e.linked(e.alice.CustomerGUID, "ins_109509")
	e.expire(a.GUID)
	deposit := connections.TransferRequest{Amount: "25.00", Side: "deposit", Rail: "ach"}

	_, err := tx.Quote(ctx, e.alice, a.GUID, deposit)
	var ce *connections.Error
	if !errors.As(err, &ce) || ce.Code != "blocked" {
		t.Fatalf("quote on refresh_required: got %v, want blocked", err)
	}
	if n := e.lossy.count("POST", "/api/quotes"); n != 0 {
		t.Fatalf("quotes asked of the platform for a blocked connection: %d, want 0", n)
	}

	// Reconnected: the PATCH, then the local copy catches up.
	if _, err := e.bank.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.Completed}); err != nil {
		t.Fatal(err)
	}
	e.sync()
	q, err := tx.Quote(ctx, e.alice, a.GUID, deposit)
	if err != nil || q.State != store.TransferQuoted || q.Amount != 2500 || q.Key == "" {
		t.Fatalf("quote: got %+v, %v, want a quoted $25.00", q, err)
	}
	if recent, _ := tx.Recent(ctx, e.alice.CustomerGUID, "", 10); len(recent) != 0 {
		t.Fatalf("recent before confirming: got %d, want 0", len(recent))
	}

	t.Run("only the owner sees or confirms it", func(t *testing.T) {
		if _, err := tx.Confirm(ctx, e.bob, q.Key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob confirming: got %v, want ErrNotFound", err)
		}
		if _, err := tx.Quote(ctx, e.bob, a.GUID, deposit); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob quoting on alice's connection: got %v, want ErrNotFound", err)
		}
	})

	first, err := tx.Confirm(ctx, e.alice, q.Key)
	if err != nil || first.TransferGUID == "" {
		t.Fatalf("confirm: got %+v, %v", first, err)
	}
	again, err := tx.Confirm(ctx, e.alice, q.Key)
	if err != nil || again.TransferGUID != first.TransferGUID {
		t.Fatalf("double submit: got %+v, %v, want the same transfer", again, err)
	}
	if n := e.lossy.count("POST", "/api/transfers"); n != 1 {
		t.Fatalf("POST /api/transfers: %d, want 1", n)
	}
	if got := e.settle(tx, e.alice, q.Key); got.State != store.TransferCompleted {
		t.Fatalf("ACH deposit: got %s/%s, want completed", got.State, got.FailureCode)
	}

	t.Run("a wire from First Gingham fails with its code", func(t *testing.T) {
		w, err := tx.Quote(ctx, e.alice, a.GUID, connections.TransferRequest{Amount: "100", Side: "withdrawal", Rail: "wire"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Confirm(ctx, e.alice, w.Key); err != nil {
			t.Fatal(err)
		}
		if got := e.settle(tx, e.alice, w.Key); got.State != store.TransferFailed || got.FailureCode != "payment_rail_invalid" {
			t.Fatalf("wire: got %s/%s, want failed/payment_rail_invalid", got.State, got.FailureCode)
		}
	})

	t.Run("the platform fails it when the local copy is stale", func(t *testing.T) {
		s, err := tx.Quote(ctx, e.alice, a.GUID, deposit)
		if err != nil {
			t.Fatal(err)
		}
		// The login expires at the platform after the quote, before any sync.
		if _, err := e.bank.PatchExternalBankAccount(ctx, a.GUID, platform.PatchAccountRequest{State: rules.RefreshRequired}); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Confirm(ctx, e.alice, s.Key); err != nil {
			t.Fatal(err)
		}
		if got := e.settle(tx, e.alice, s.Key); got.State != store.TransferFailed || got.FailureCode != "refresh_required" {
			t.Fatalf("got %s/%s, want failed/refresh_required", got.State, got.FailureCode)
		}
	})

	recent, err := tx.Recent(ctx, e.alice.CustomerGUID, a.GUID, 10)
	if err != nil || len(recent) != 3 {
		t.Fatalf("recent: got %d, %v, want 3", len(recent), err)
	}
}

// The platform answers funding quotes without an expiry: such a quote is
// confirmed (not refused as expired), and a transfer the platform holds or
// reviews keeps being followed until it is final.
func TestTransferWithoutQuoteExpiryThroughHoldingAndReviewing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := connections.NewTransfers(e.svc, connections.TransferConfig{})
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	w, err := tx.Quote(ctx, e.alice, a.GUID, connections.TransferRequest{Amount: "15", Side: "withdrawal", Rail: "ach"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Confirm(ctx, e.alice, w.Key); err != nil {
		t.Fatalf("confirm a withdrawal: %v", err)
	}
	if got := e.settle(tx, e.alice, w.Key); got.State != store.TransferCompleted || got.Side != "withdrawal" {
		t.Fatalf("ACH withdrawal: got %s %s/%s, want a completed withdrawal", got.Side, got.State, got.FailureCode)
	}
	q, err := tx.Quote(ctx, e.alice, a.GUID, connections.TransferRequest{Amount: "40", Side: "withdrawal", Rail: "ach"})
	if err != nil {
		t.Fatal(err)
	}
	if !q.QuoteExpiresAt.IsZero() {
		t.Fatalf("quote expiry: got %v, want none (the simulator answers null)", q.QuoteExpiresAt)
	}
	tr, err := tx.Confirm(ctx, e.alice, q.Key)
	if err != nil || tr.TransferGUID == "" {
		t.Fatalf("confirm of a quote without expiry: got %+v, %v, want it sent", tr, err)
	}
	for _, state := range []string{"holding", "reviewing", "cancelling", "pending"} {
		if err := e.sandbox.PinTransferState(ctx, tr.TransferGUID, state, ""); err != nil {
			t.Fatal(err)
		}
		if err := tx.Poll(ctx); err != nil {
			t.Fatalf("poll with the transfer %s: %v", state, err)
		}
		got, err := tx.Transfer(ctx, e.alice, q.Key)
		if err != nil || got.State != state || !got.Open() {
			t.Fatalf("platform says %s: got %s (open %v), %v, want %s and still followed", state, got.State, got.Open(), err, state)
		}
	}
	if err := e.sandbox.PinTransferState(ctx, tr.TransferGUID, "completed", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.settle(tx, e.alice, q.Key); got.State != store.TransferCompleted {
		t.Fatalf("after reviewing: got %s, want completed", got.State)
	}
}

// A confirm whose POST never reached the platform, on a quote without an
// expiry: the transfer is not given up as soon as the submit window passed
// (a null expiry is not an expired quote), only well after it.
func TestTransferNeverSentWithoutQuoteExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := connections.NewTransfers(e.svc, connections.TransferConfig{SubmitWindow: time.Minute})
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	q, err := tx.Quote(ctx, e.alice, a.GUID, connections.TransferRequest{Amount: "9", Side: "deposit", Rail: "ach"})
	if err != nil {
		t.Fatal(err)
	}
	e.fault(simplatform.Fault{Method: "POST", PathPrefix: "/api/transfers", Status: 503})
	if tr, err := tx.Confirm(ctx, e.alice, q.Key); err != nil || tr.State != store.TransferSubmitting {
		t.Fatalf("confirm without an answer: got %+v, %v, want submitting", tr, err)
	}
	e.clearFaults()
	state := func(at time.Time) string {
		t.Helper()
		e.svc.SetClock(func() time.Time { return at })
		if err := tx.Poll(ctx); err != nil {
			t.Fatalf("poll: %v", err)
		}
		tr, err := tx.Transfer(ctx, e.alice, q.Key)
		if err != nil {
			t.Fatal(err)
		}
		return tr.State + "/" + tr.FailureCode
	}
	if got := state(time.Now().Add(2 * time.Minute)); got != "submitting/" {
		t.Fatalf("just past the submit window: got %s, want still submitting", got)
	}
	if got := state(time.Now().Add(10 * time.Minute)); got != "failed/not_sent" {
		t.Fatalf("well past the submit window: got %s, want failed/not_sent", got)
	}
}

func TestTransferWithALostAnswerIsFoundByItsQuote(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := connections.NewTransfers(e.svc, connections.TransferConfig{SubmitWindow: time.Millisecond})
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	q, err := tx.Quote(ctx, e.alice, a.GUID, connections.TransferRequest{Amount: "12.34", Side: "deposit", Rail: "ach"})
	if err != nil {
		t.Fatal(err)
	}
	e.lossy.loseNext("POST", "/api/transfers")
	tr, err := tx.Confirm(ctx, e.alice, q.Key)
	if err != nil || tr.State != store.TransferSubmitting || tr.TransferGUID != "" {
		t.Fatalf("confirm with a lost answer: got %+v, %v, want submitting without a guid", tr, err)
	}
	time.Sleep(5 * time.Millisecond) // past the submit window
	if got := e.settle(tx, e.alice, q.Key); got.State != store.TransferCompleted || got.TransferGUID == "" {
		t.Fatalf("after the poll: got %+v, want completed with the platform's guid", got)
	}
	if n := e.lossy.count("POST", "/api/transfers"); n != 1 {
		t.Fatalf("POST /api/transfers: %d, want 1 (never repeated)", n)
	}
}

func TestTransferInputIsCheckedBeforeThePlatform(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := connections.NewTransfers(e.svc, connections.TransferConfig{Limit: 50_000})
	a := e.linked(e.alice.CustomerGUID, "ins_109508")
	for _, in := range []connections.TransferRequest{
		{Amount: "abc", Side: "deposit", Rail: "ach"},
		{Amount: "-1", Side: "deposit", Rail: "ach"},
		{Amount: "1.234", Side: "deposit", Rail: "ach"},
		{Amount: "500.01", Side: "deposit", Rail: "ach"},
		{Amount: "5", Side: "buy", Rail: "ach"},
		{Amount: "5", Side: "deposit", Rail: "rtp"},
	} {
		_, err := tx.Quote(ctx, e.alice, a.GUID, in)
		var ce *connections.Error
		if !errors.As(err, &ce) || ce.Kind != connections.KindRejected {
			t.Errorf("Quote(%+v): got %v, want a 422 refusal", in, err)
		}
	}
	if n := e.lossy.count("POST", "/api/quotes"); n != 0 {
		t.Errorf("quotes asked for bad input: %d, want 0", n)
	}
	if _, err := tx.Quote(ctx, e.alice, a.GUID, connections.TransferRequest{Amount: "500", Side: "deposit", Rail: "ach"}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}
