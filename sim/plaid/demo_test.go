package simplaid

import "testing"

// TestRestoreReplacesItems: the demo's reset of the stand-in. Items made
// after the snapshot are gone, those in it are back as they were.
func TestRestoreReplacesItems(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seeded, err := s.SandboxLink("ins_109508", "")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	later, err := s.SandboxLink("ins_109509", "")
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	seededItem := s.items[s.publicTokens[seeded.PublicToken].itemID]
	seededItem.loginRequired = true
	access := seededItem.accessToken
	s.mu.Unlock()

	if err := s.Restore(snap); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.itemByAccessToken(access)
	if e != nil {
		t.Fatalf("seeded Item after the restore: %v", e.Message)
	}
	if it.loginRequired {
		t.Error("seeded Item after the restore: login still required, want as seeded")
	}
	if pt := s.publicTokens[later.PublicToken]; pt != nil {
		t.Errorf("public token made after the snapshot survived: %+v", pt)
	}
	if len(s.items) != 1 {
		t.Errorf("Items after the restore: got %d, want 1", len(s.items))
	}
}
