package simplaid

import (
	"path/filepath"
	"testing"
	"time"
)

func TestItemsSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plaid.json")
	s1, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	linked, err := s1.SandboxLink("ins_109508", "")
	if err != nil {
		t.Fatal(err)
	}
	if linked.AccountName != "Plaid Checking" || linked.AccountMask != "0000" {
		t.Fatalf("SandboxLink shares the first account: got %+v", linked)
	}
	s1.mu.Lock()
	itemID := s1.publicTokens[linked.PublicToken].itemID
	it := s1.items[itemID]
	it.breakLogin("req0000000000001")
	it.consentExpires = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	access := it.accessToken
	s1.mu.Unlock()
	s1.Close()

	s2, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.mu.Lock()
	defer s2.mu.Unlock()
	got, e := s2.itemByAccessToken(access)
	if e != nil {
		t.Fatalf("item after restart: %v", e.Message)
	}
	if pt := s2.publicTokens[linked.PublicToken]; pt == nil || pt.itemID != itemID || pt.used {
		t.Fatalf("public token after restart: got %+v, want it alive for the same Item", pt)
	}
	if got.errorRequestID != "req0000000000001" || !got.consentExpires.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("item after restart: error request_id %q, consent ends %v; want both kept", got.errorRequestID, got.consentExpires)
	}
	if !got.loginRequired || got.inst.ID != "ins_109508" || len(got.accounts) != 2 || !got.shared[linked.AccountID] || len(got.sharedAccounts()) != 1 {
		t.Fatalf("item after restart: got %+v", got)
	}
	if _, err := New(Config{StatePath: filepath.Join(t.TempDir(), "none.json")}); err != nil {
		t.Fatalf("missing state file must start empty: %v", err)
	}
}
