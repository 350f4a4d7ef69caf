package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	simplatform "github.com/bankconnections/portal/sim/platform"
)

// standalonePlaid is the stand-alone fallback Plaid: just enough for the
// simulator to run alone (no network, no Plaid stand-in). Every public token
// gives a new Item sharing one fixed checking account; logins never expire
// unless reset. Webhooks cannot be verified, so they are refused.
type standalonePlaid struct {
	mu    sync.Mutex
	items map[string]*fallbackItem // by access token
}

type fallbackItem struct {
	id            string
	loginRequired bool
}

var _ simplatform.Plaid = (*standalonePlaid)(nil)

func newStandalonePlaid() *standalonePlaid {
	return &standalonePlaid{items: map[string]*fallbackItem{}}
}

const fallbackAccountID = "fallback-checking-0000"

func (p *standalonePlaid) CreateLinkToken(ctx context.Context, req simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
	if req.AccessToken != "" {
		if _, err := p.item(req.AccessToken); err != nil {
			return simplatform.LinkToken{}, err
		}
	}
	return simplatform.LinkToken{Token: "link-sandbox-" + uuid.NewString(), Expiration: time.Now().Add(4 * time.Hour)}, nil
}

func (p *standalonePlaid) ExchangePublicToken(ctx context.Context, publicToken string) (simplatform.ItemAccess, error) {
	if !strings.HasPrefix(publicToken, "public-") {
		return simplatform.ItemAccess{}, &simplatform.PlaidError{Type: "INVALID_INPUT", Code: "INVALID_PUBLIC_TOKEN", Message: "public token must start with public-"}
	}
	sum := sha256.Sum256([]byte(publicToken))
	access := "access-sandbox-" + uuid.NewString()
	p.mu.Lock()
	defer p.mu.Unlock()
	item := &fallbackItem{id: "item-" + hex.EncodeToString(sum[:8])}
	p.items[access] = item
	return simplatform.ItemAccess{AccessToken: access, ItemID: item.id}, nil
}

func (p *standalonePlaid) Accounts(ctx context.Context, accessToken string) (simplatform.Item, []simplatform.Account, error) {
	item, err := p.item(accessToken)
	if err != nil {
		return simplatform.Item{}, nil, err
	}
	return simplatform.Item{ItemID: item.id, InstitutionID: "ins_109508", InstitutionName: "First Platypus Bank"},
		[]simplatform.Account{{AccountID: fallbackAccountID, Name: "Plaid Checking", Mask: "0000", Type: "depository", Subtype: "checking"}}, nil
}

func (p *standalonePlaid) RefreshTransactions(ctx context.Context, accessToken string) error {
	item, err := p.item(accessToken)
	if err != nil {
		return err
	}
	if item.loginRequired {
		return &simplatform.PlaidError{Type: "ITEM_ERROR", Code: "ITEM_LOGIN_REQUIRED", Message: "the login details of this item have changed"}
	}
	return nil
}

func (p *standalonePlaid) Balances(ctx context.Context, accessToken string) (map[string]simplatform.Balance, error) {
	if err := p.RefreshTransactions(ctx, accessToken); err != nil {
		return nil, err
	}
	available, current := int64(10_000), int64(11_000)
	return map[string]simplatform.Balance{fallbackAccountID: {Available: &available, Current: &current}}, nil
}

func (p *standalonePlaid) ResetLogin(ctx context.Context, accessToken string) error {
	item, err := p.item(accessToken)
	if err != nil {
		return err
	}
	p.mu.Lock()
	item.loginRequired = true
	p.mu.Unlock()
	return nil
}

func (p *standalonePlaid) RemoveItem(ctx context.Context, accessToken string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.items, accessToken)
	return nil
}

func (p *standalonePlaid) VerifyWebhook(ctx context.Context, verificationHeader string, body []byte) (simplatform.Webhook, error) {
	return simplatform.Webhook{}, errors.New("the stand-alone Plaid fallback sends no webhooks")
}

func (p *standalonePlaid) item(accessToken string) (*fallbackItem, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	item, ok := p.items[accessToken]
	if !ok {
		// Items live in memory only: after a restart they are gone, as after removal.
		return nil, &simplatform.PlaidError{Type: "INVALID_INPUT", Code: "INVALID_ACCESS_TOKEN", Message: "unknown access token"}
	}
	return item, nil
}
