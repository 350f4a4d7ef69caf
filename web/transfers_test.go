package web_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bankconnections/portal/store"
)

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// quotedTransfer stores a quote waiting for its confirm on one of an owner's
// expired connections (no platform call) and returns its key.
func (w *world) quotedTransfer(t *testing.T, role string) string {
	t.Helper()
	key := randomKey()
	_, err := w.db.CreateQuotedTransfer(context.Background(), store.Transfer{Key: key, CustomerGUID: w.users[role].CustomerGUID,
		AccountGUID: w.spareAccount(t, role), Side: "deposit", Rail: "ach", Amount: 2500, QuoteGUID: randomKey(),
		QuoteExpiresAt: time.Now().Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// connected makes one of alice's spare connections usable and syncs it in.
func (w *world) connected(t *testing.T, role string) string {
	t.Helper()
	guid := w.spareAccount(t, role)
	if err := w.sandbox.PinState(context.Background(), guid, "completed", ""); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return guid
}

func TestTransferFormOnlyOnConnectedConnections(t *testing.T) {
	w := newWorld(t)
	alice := w.as(t, "alice")
	expired := alice.get("/accounts/" + w.owners["alice"].account)
	d := doc(t, expired)
	if testID(d, "transfer-form").Length() != 0 || testID(d, "transfer-blocked").Length() != 1 || testID(d, "reconnect").Length() != 1 {
		t.Fatalf("expired connection: want the reason and Reconnect, no form; got %.500q", testID(d, "transfer-panel").Text())
	}
	if !strings.Contains(testID(d, "transfer-blocked").Text(), "Reconnect") {
		t.Errorf("blocked reason: got %q, want it to say to reconnect", testID(d, "transfer-blocked").Text())
	}
	guid := w.connected(t, "alice")
	d = doc(t, alice.get("/accounts/"+guid))
	for _, id := range []string{"transfer-form", "transfer-amount", "transfer-side", "transfer-rail"} {
		if testID(d, id).Length() != 1 {
			t.Errorf("connected connection: no %s", id)
		}
	}
	if testID(d, "transfer-blocked").Length() != 0 {
		t.Error("connected connection shows a blocked reason")
	}
}

func TestTransferBadInputCreatesNothing(t *testing.T) {
	w := newWorld(t)
	guid := w.connected(t, "alice")
	alice := w.as(t, "alice")
	cases := map[string]string{
		"abc":       "must be a number",
		"":          "Enter an amount",
		"0":         "greater than zero",
		"-25":       "greater than zero",
		"25.001":    "two decimals",
		"10000.01":  "most you can move at once",
		"1e5":       "must be a number",
		"<script>":  "must be a number",
		"25,00.000": "two decimals",
	}
	before := w.calls.n.Load()
	for amount, want := range cases {
		r := alice.post("/accounts/"+guid+"/transfers", url.Values{"amount": {amount}, "side": {"deposit"}, "rail": {"ach"}})
		d := doc(t, r)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(testID(d, "transfer-error").Text(), want) {
			t.Errorf("amount %q: got %d %q, want 422 saying %q", amount, r.status, testID(d, "transfer-error").Text(), want)
		}
		if got, _ := testID(d, "transfer-amount").Attr("value"); amount != "" && got != amount {
			t.Errorf("amount %q: the form lost what was typed (%q)", amount, got)
		}
	}
	for _, in := range []url.Values{
		{"amount": {"5"}, "side": {"buy"}, "rail": {"ach"}},
		{"amount": {"5"}, "side": {"deposit"}, "rail": {"rtp"}},
	} {
		if r := alice.post("/accounts/"+guid+"/transfers", in); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%v: got %d, want 422", in, r.status)
		}
	}
	if n := w.calls.n.Load() - before; n != 0 {
		t.Errorf("bad input made %d platform calls", n)
	}
	if list, _ := w.db.RecentTransfers(context.Background(), w.users["alice"].CustomerGUID, "", 10); len(list) != 0 {
		t.Errorf("bad input created %d transfers", len(list))
	}
}

func TestTransferQuoteThenConfirmOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	guid := w.connected(t, "alice")
	alice, bob := w.as(t, "alice"), w.as(t, "bob")
	r := alice.post("/accounts/"+guid+"/transfers", url.Values{"amount": {"$25"}, "side": {"deposit"}, "rail": {"ach"}})
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/transfers/") {
		t.Fatalf("quote: got %d %q, want 303 to the quote", r.status, loc)
	}
	quote := alice.get(loc)
	d := doc(t, quote)
	if quote.status != http.StatusOK || !strings.Contains(testID(d, "quote-amount").Text(), "$25.00") || testID(d, "transfer-confirm").Length() != 1 {
		t.Fatalf("quote page: got %d %q, want $25.00 and a confirm button", quote.status, testID(d, "transfer-quote").Text())
	}
	if list, _ := w.db.RecentTransfers(ctx, w.users["alice"].CustomerGUID, "", 10); len(list) != 0 {
		t.Fatalf("a transfer before the confirm: %d", len(list))
	}
	if got := bob.get(loc); got.status != http.StatusNotFound {
		t.Errorf("bob reading alice's quote: got %d, want 404", got.status)
	}
	if got := bob.post(loc+"/confirm", nil); got.status != http.StatusNotFound {
		t.Errorf("bob confirming alice's quote: got %d, want 404", got.status)
	}
	// The same form submitted twice: one transfer.
	key := strings.TrimPrefix(loc, "/transfers/")
	done := "/accounts/" + guid + "?sent=" + key + "#transfers"
	for i := 0; i < 2; i++ {
		got := alice.post(loc+"/confirm", nil)
		if got.status != http.StatusSeeOther || got.header.Get("Location") != done {
			t.Fatalf("confirm #%d: got %d %q, want 303 to %q", i+1, got.status, got.header.Get("Location"), done)
		}
	}
	// The page after the confirm says what was sent and what happens next.
	sent := testID(doc(t, alice.get(strings.TrimSuffix(done, "#transfers"))), "transfer-sent").Text()
	if !strings.Contains(sent, "Deposit of $25.00 by ACH sent") || !strings.Contains(sent, "business days") {
		t.Errorf("confirmation: got %q, want the amount and when it arrives", sent)
	}
	// Another customer's key, or the key on another connection, shows nothing.
	bobGUID := w.connected(t, "bob")
	if d := doc(t, bob.get("/accounts/"+bobGUID+"?sent="+key)); testID(d, "transfer-sent").Length() != 0 {
		t.Error("bob's page confirms alice's transfer")
	}
	list, err := w.db.RecentTransfers(ctx, w.users["alice"].CustomerGUID, "", 10)
	if err != nil || len(list) != 1 || list[0].TransferGUID == "" || list[0].Amount != 2500 {
		t.Fatalf("after two submits: got %+v, %v, want one transfer of $25.00 sent", list, err)
	}
	d = doc(t, alice.get("/accounts/"+guid))
	if rows := testID(d, "transfer-row"); rows.Length() != 1 {
		t.Fatalf("account page: %d transfer rows, want 1", rows.Length())
	}
	d = doc(t, alice.get("/accounts"))
	if rows := testID(d, "transfer-row"); rows.Length() != 1 {
		t.Fatalf("accounts page: %d transfer rows, want 1", rows.Length())
	}
	if got := alice.get(loc); got.status != http.StatusSeeOther {
		t.Errorf("the quote after its confirm: got %d, want 303 to the connection", got.status)
	}
	if d := doc(t, bob.get("/accounts")); testID(d, "transfer-row").Length() != 0 {
		t.Error("bob sees alice's transfer")
	}
}
