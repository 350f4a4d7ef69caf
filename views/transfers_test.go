package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/bankconnections/portal/views"
)

func TestTransferPanel(t *testing.T) {
	rows := []views.TransferRow{
		{Key: "k2", State: "failed", FailureCode: "invalid_routing_number", Side: "deposit", Rail: "wire", Amount: 1000, CreatedAt: time.Now()},
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
	t.Run("not wired: nothing", func(t *testing.T) {
		doc := render(t, views.TransferPanel(views.TransferPanelView{}, "tok"))
		if byTestID(doc, "transfer-panel").Length() != 0 {
			t.Fatal("a panel without transfers wired")
		}
	})
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
	v.Expired = true
	doc = render(t, views.TransferQuotePage(layout, v))
	if byTestID(doc, "transfer-confirm").Length() != 0 || byTestID(doc, "transfer-error").Length() != 1 {
		t.Error("an expired quote can still be confirmed")
	}
}
