package simplaid

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// The stand-in can keep its Items and public tokens in a JSON file
// (Config.StatePath), so a demo that restarts still knows the Items the
// platform simulator holds access tokens for, and a completion queued across
// the restart can still exchange its public token. Link tokens and Link
// sessions are not kept: a restart ends any Link session in progress.

type savedAccount struct {
	ID            string `json:"id"`
	TemplateIndex int    `json:"template_index"`
}

type savedItem struct {
	ID            string          `json:"id"`
	AccessToken   string          `json:"access_token"`
	InstitutionID string          `json:"institution_id"`
	Accounts      []savedAccount  `json:"accounts"`
	Shared        map[string]bool `json:"shared"`
	Webhook       string          `json:"webhook"`
	Products      []string        `json:"products"`
	LoginRequired bool            `json:"login_required"`
	ErrorRequest  string          `json:"error_request_id,omitempty"`
	ConsentEnds   *time.Time      `json:"consent_expiration_time,omitempty"`
	Removed       bool            `json:"removed"`
}

type savedPublicToken struct {
	Token   string    `json:"token"`
	ItemID  string    `json:"item_id"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used"`
}

type savedState struct {
	Items        []savedItem        `json:"items"`
	PublicTokens []savedPublicToken `json:"public_tokens"`
}

// snapshot serializes the Items and the public tokens still alive. Callers hold s.mu.
func (s *Server) snapshot() ([]byte, error) {
	var tokens []savedPublicToken
	now := s.now()
	for tok, pt := range s.publicTokens {
		if pt.expires.After(now) {
			tokens = append(tokens, savedPublicToken{Token: tok, ItemID: pt.itemID, Expires: pt.expires, Used: pt.used})
		}
	}
	sort.Slice(tokens, func(i, j int) bool { return tokens[i].Token < tokens[j].Token })
	items := make([]savedItem, 0, len(s.items))
	for _, it := range s.items {
		si := savedItem{ID: it.id, AccessToken: it.accessToken, InstitutionID: it.inst.ID, Shared: it.shared, Webhook: it.webhook,
			Products: it.products, LoginRequired: it.loginRequired, ErrorRequest: it.errorRequestID, ConsentEnds: timePtr(it.consentExpires), Removed: it.removed}
		for _, a := range it.accounts {
			idx := -1
			for i, t := range it.inst.Accounts {
				if t.Name == a.Name && t.Mask == a.Mask {
					idx = i
				}
			}
			si.Accounts = append(si.Accounts, savedAccount{ID: a.ID, TemplateIndex: idx})
		}
		items = append(items, si)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return json.Marshal(savedState{Items: items, PublicTokens: tokens})
}

func (s *Server) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.apply(b); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	s.saved = string(b)
	return nil
}

// apply adds the Items and public tokens of a snapshot to the state.
func (s *Server) apply(b []byte) error {
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil {
		// The first format was the list of Items alone.
		if err2 := json.Unmarshal(b, &st.Items); err2 != nil {
			return err
		}
	}
	for _, pt := range st.PublicTokens {
		s.publicTokens[pt.Token] = &publicToken{itemID: pt.ItemID, expires: pt.Expires, used: pt.Used}
	}
	for _, si := range st.Items {
		inst := institutionByID(si.InstitutionID)
		if inst == nil {
			continue
		}
		it := &item{id: si.ID, accessToken: si.AccessToken, inst: inst, shared: si.Shared, webhook: si.Webhook,
			products: si.Products, loginRequired: si.LoginRequired, errorRequestID: si.ErrorRequest, removed: si.Removed}
		if it.shared == nil {
			it.shared = map[string]bool{}
		}
		if si.ConsentEnds != nil {
			it.consentExpires = *si.ConsentEnds
		}
		if it.loginRequired && it.errorRequestID == "" {
			it.errorRequestID = newRequestID() // saved before Items kept it
		}
		for _, sa := range si.Accounts {
			if sa.TemplateIndex < 0 || sa.TemplateIndex >= len(inst.Accounts) {
				continue
			}
			it.accounts = append(it.accounts, &account{accountTemplate: inst.Accounts[sa.TemplateIndex], ID: sa.ID})
		}
		s.items[it.id] = it
		s.accessTokens[it.accessToken] = it.id
	}
	return nil
}

// save writes the Items when they changed since the last save.
func (s *Server) save() error {
	s.mu.Lock()
	b, err := s.snapshot()
	s.mu.Unlock()
	if err != nil || string(b) == s.saved {
		return err
	}
	tmp := s.statePath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.statePath); err != nil {
		return err
	}
	s.saved = string(b)
	return nil
}

// persistLoop saves changes every second until Close.
func (s *Server) persistLoop() {
	defer close(s.persistDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.closeCtx.Done():
			if err := s.save(); err != nil {
				s.log.Error("save stand-in state", "err", err)
			}
			return
		case <-t.C:
			if err := s.save(); err != nil {
				s.log.Error("save stand-in state", "err", err)
			}
		}
	}
}

// SandboxLinked is what SandboxLink made: a public token sharing one account.
type SandboxLinked struct {
	PublicToken string
	AccountID   string
	AccountName string
	AccountMask string
}

// SandboxLink creates an Item at an institution sharing only its first
// account, as a finished Link session would, and returns a public token for
// it (the demo seeds connections with it, as Plaid's /sandbox/public_token/create
// does). Item webhooks go to webhook when it is set.
func (s *Server) SandboxLink(institutionID, webhook string) (SandboxLinked, error) {
	return s.SandboxLinkAccount(institutionID, 0, webhook)
}

// SandboxLinkAccount is SandboxLink sharing the institution's n-th account.
func (s *Server) SandboxLinkAccount(institutionID string, n int, webhook string) (SandboxLinked, error) {
	inst := institutionByID(institutionID)
	if inst == nil {
		return SandboxLinked{}, fmt.Errorf("simplaid: unknown institution %q", institutionID)
	}
	if n < 0 || n >= len(inst.Accounts) {
		return SandboxLinked{}, fmt.Errorf("simplaid: %s has no account %d", institutionID, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.newItem(inst, webhook, []string{"transactions"})
	a := it.accounts[n]
	it.shared[a.ID] = true
	return SandboxLinked{PublicToken: s.newPublicToken(it), AccountID: a.ID, AccountName: a.Name, AccountMask: a.Mask}, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
