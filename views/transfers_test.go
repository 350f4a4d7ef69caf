package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/bankconnections/portal/platform/contract"
	"github.com/bankconnections/portal/views"
)

func TestTransferPanel(t *testing.T) {
	rows := []views.TransferRow{
		{Key: "k2", State: "failed", FailureCode: "payment_rail_invalid", Side: "deposit", Rail: "wire", Amount: 1000, CreatedAt: time.Now()},
		{Key: "k1", State: "pending", Side: "withdrawal", Rail: "ach", Amount: 2500, CreatedAt: time.Now()},
	}
	t.Run("connected: the form, keeping what was typed", func(t *testing.T) {
		p := views.TransferPanelView{Enabled: true, AccountGUID: "a1", Transfers: rows,
			Form: views.TransferForm{Amount: "12.345", Side: "withdrawal", Rail: "wire", Limit: 1_000_000, Error: "Use at most two decimals."}}
		doc := render(t, views.TransferPanel(p, "tok"))
		if byTestID(doc, "transfer-blocked").Length() != 0 || byTestID(doc, "transfer-form").Length() != 1 {
			t.Fatal("want the form and no blocked reason")
		}
		if v, _ := byTestID(doc, "transfer-amount").Attr("value"); v != "12.345" {
			t.Errorf("amount: got %q", v)
		}
		if v, _ := byTestID(doc, "transfer-side").Find("option[selected]").Attr("value"); v != "withdrawal" {
			t.Errorf("side: got %q, want withdrawal selected", v)
		}
		if v, _ := byTestID(doc, "transfer-rail").Find("option[selected]").Attr("value"); v != "wire" {
			t.Errorf("rail: got %q, want wire selected", v)
		}
		if got := byTestID(doc, "transfer-error").Text(); got != "Use at most two decimals." {
			t.Errorf("error: got %q", got)
		}
		if !strings.Contains(doc.Text(), "$10,000.00") {
			t.Error("the limit is not shown")
		}
		states := byTestID(doc, "transfer-row").Map(func(_ int, s *goquery.Selection) string { v, _ := s.Attr("data-state"); return v })
		if strings.Join(states, ",") != "failed,pending" {
			t.Errorf("rows: got %v", states)
		}
		if got := byTestID(doc, "transfer-failure").Text(); !strings.Contains(got, "different routing number for wires") {
			t.Errorf("failure reason: got %q, want plain words about the wire routing number", got)
		}
	})
	t.Run("blocked: the reason instead of the form", func(t *testing.T) {
		doc := render(t, views.TransferPanel(views.TransferPanelView{Enabled: true, AccountGUID: "a1", Blocked: "Reconnect it."}, "tok"))
		if byTestID(doc, "transfer-form").Length() != 0 || byTestID(doc, "transfer-blocked").Text() != "Reconnect it." {
			t.Fatal("want only the blocked reason")
		}
	})
	t.Run("switched off: says so, no form", func(t *testing.T) {
		doc := render(t, views.TransferPanel(views.TransferPanelView{Off: true}, "tok"))
		if byTestID(doc, "transfer-form").Length() != 0 || !strings.Contains(byTestID(doc, "transfers-off").Text(), "not enabled") {
			t.Fatal("want only the message that transfers are not enabled")
		}
	})
	t.Run("not wired: nothing", func(t *testing.T) {
		doc := render(t, views.TransferPanel(views.TransferPanelView{}, "tok"))
		if byTestID(doc, "transfer-panel").Length() != 0 {
			t.Fatal("a panel without transfers wired")
		}
	})
}

// Each of the platform's seven transfer states (and the portal's two) has
// its own label in the list.
func TestTransferStateLabels(t *testing.T) {
	states := append([]string{"quoted", "submitting"}, contract.TransferStates...)
	seen := map[string]string{}
	for _, st := range states {
		doc := render(t, views.TransferPanel(views.TransferPanelView{Enabled: true, AccountGUID: "a1", Blocked: "x",
			Transfers: []views.TransferRow{{Key: "k", State: st, Side: "deposit", Rail: "ach", Amount: 100, CreatedAt: time.Now()}}}, "tok"))
		label := strings.TrimSpace(byTestID(doc, "transfer-state").Text())
		if label == "" || label == "Unknown" {
			t.Errorf("state %s: got label %q, want its own", st, label)
		}
		if other, dup := seen[label]; dup {
			t.Errorf("states %s and %s share the label %q", other, st, label)
		}
		seen[label] = st
	}
}

// Every failure code of the platform's list has its own plain words; an
// unknown code gets general ones; "send it by ACH" only for a wire refused
// for its rail.
func TestTransferFailureTexts(t *testing.T) {
	official := contract.TransferFailureCodes // the platform's pinned list
	generic := views.TransferFailureText("a_code_from_the_future", "ach")
	if generic == "" || strings.Contains(generic, "a_code") || strings.Contains(generic, "_") {
		t.Errorf("unknown code: got %q, want general plain words", generic)
	}
	seen := map[string]string{}
	for _, code := range official {
		text := views.TransferFailureText(code, "ach")
		if text == generic || strings.Contains(text, "_") {
			t.Errorf("%s: got %q, want its own plain words", code, text)
		}
		if other, dup := seen[text]; dup {
			t.Errorf("%s and %s share the words %q", other, code, text)
		}
		seen[text] = code
	}
	if got := views.TransferFailureText("payment_rail_invalid", "wire"); !strings.Contains(got, "send it by ACH") {
		t.Errorf("wire refused for its rail: got %q, want the advice to send it by ACH", got)
	}
	if got := views.TransferFailureText("payment_rail_invalid", "ach"); strings.Contains(got, "by ACH") {
		t.Errorf("ACH refused for its rail: got %q, want no advice to use ACH", got)
	}
}

func TestTransferQuotePage(t *testing.T) {
	v := views.TransferQuoteView{Key: "k1", AccountGUID: "a1", Institution: "First Gingham Credit Union", Mask: "3141", Side: "deposit",
		Rail: "ach", Amount: 2500, ExpiresAt: time.Now().Add(time.Minute)}
	doc := render(t, views.TransferQuotePage(layout, v))
	if got := byTestID(doc, "quote-amount").Text(); got != "$25.00" {
		t.Errorf("amount: got %q", got)
	}
	if a, _ := byTestID(doc, "transfer-confirm").Closest("form").Attr("action"); a != "/transfers/k1/confirm" {
		t.Errorf("confirm form action: got %q", a)
	}
	if !strings.Contains(doc.Text(), "Quote valid until") {
		t.Error("a quote with an expiry does not show it")
	}
	noExpiry := v
	noExpiry.ExpiresAt = time.Time{}
	doc = render(t, views.TransferQuotePage(layout, noExpiry))
	if byTestID(doc, "transfer-confirm").Length() != 1 || strings.Contains(doc.Text(), "valid until") {
		t.Error("a quote without an expiry: want it confirmable and no expiry shown")
	}
	v.Expired = true
	doc = render(t, views.TransferQuotePage(layout, v))
	if byTestID(doc, "transfer-confirm").Length() != 0 || byTestID(doc, "transfer-error").Length() != 1 {
		t.Error("an expired quote can still be confirmed")
	}
}
