// Package plaidgo implements the platform simulator's Plaid seam with
// plaid-go v20, against the offline stand-in (sim/plaid) or Plaid's sandbox.
package plaidgo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/plaid/plaid-go/v20/plaid"

	simplatform "github.com/bankconnections/portal/sim/platform"
)

var _ simplatform.Plaid = (*Adapter)(nil)

// Config configures the adapter.
type Config struct {
	ClientID string
	Secret   string
	// BaseURL is the stand-in's URL or string(plaid.Sandbox).
	BaseURL    string
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Adapter talks to Plaid through plaid-go.
type Adapter struct {
	client *plaid.APIClient
	log    *slog.Logger
	now    func() time.Time

	mu           sync.Mutex
	keys         map[string]*verificationKey // webhook keys by kid
	institutions map[string]string           // institution names by id
}

// New validates the config and builds the plaid-go client.
func New(cfg Config) (*Adapter, error) {
	if cfg.ClientID == "" || cfg.Secret == "" {
		return nil, errors.New("plaidgo: client id and secret are required")
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("plaidgo: base URL %q is not an http(s) URL", cfg.BaseURL)
	}
	pc := plaid.NewConfiguration()
	pc.AddDefaultHeader("PLAID-CLIENT-ID", cfg.ClientID)
	pc.AddDefaultHeader("PLAID-SECRET", cfg.Secret)
	pc.UseEnvironment(plaid.Environment(strings.TrimRight(cfg.BaseURL, "/")))
	pc.HTTPClient = cfg.HTTPClient
	if pc.HTTPClient == nil {
		// /transactions/refresh can take 30 s or more.
		pc.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{
		client:       plaid.NewAPIClient(pc),
		log:          log,
		now:          time.Now,
		keys:         map[string]*verificationKey{},
		institutions: map[string]string{},
	}, nil
}

// convertError turns plaid-go's error into *simplatform.PlaidError when the
// response carried Plaid's error object; transport errors pass through.
func convertError(op string, err error) error {
	if err == nil {
		return nil
	}
	pe, perr := plaid.ToPlaidError(err)
	if perr != nil || pe.ErrorCode == "" {
		return fmt.Errorf("plaidgo: %s: %w", op, err)
	}
	out := &simplatform.PlaidError{
		Type:           string(pe.ErrorType),
		Code:           pe.ErrorCode,
		Message:        pe.ErrorMessage,
		DisplayMessage: pe.GetDisplayMessage(),
		RequestID:      pe.GetRequestId(),
	}
	return out
}

func (a *Adapter) CreateLinkToken(ctx context.Context, req simplatform.LinkTokenRequest) (simplatform.LinkToken, error) {
	clientName := req.ClientName
	if clientName == "" {
		clientName = "Portal"
	}
	language := req.Language
	if language == "" {
		language = "en"
	}
	r := plaid.NewLinkTokenCreateRequest(clientName, language, []plaid.CountryCode{plaid.COUNTRYCODE_US},
		*plaid.NewLinkTokenCreateRequestUser(req.ClientUserID))
	if req.Webhook != "" {
		r.SetWebhook(req.Webhook)
	}
	if req.RedirectURI != "" {
		r.SetRedirectUri(req.RedirectURI)
	}
	if req.AccessToken != "" {
		// Update mode: the Item's access token and no products.
		r.SetAccessToken(req.AccessToken)
		if req.AccountSelection {
			u := plaid.NewLinkTokenCreateRequestUpdate()
			u.SetAccountSelectionEnabled(true)
			r.SetUpdate(*u)
		}
	} else {
		r.SetProducts([]plaid.Products{plaid.PRODUCTS_TRANSACTIONS})
	}
	resp, _, err := a.client.PlaidApi.LinkTokenCreate(ctx).LinkTokenCreateRequest(*r).Execute()
	if err != nil {
		return simplatform.LinkToken{}, convertError("link token create", err)
	}
	return simplatform.LinkToken{Token: resp.GetLinkToken(), Expiration: resp.GetExpiration()}, nil
}

func (a *Adapter) ExchangePublicToken(ctx context.Context, publicToken string) (simplatform.ItemAccess, error) {
	resp, _, err := a.client.PlaidApi.ItemPublicTokenExchange(ctx).
		ItemPublicTokenExchangeRequest(*plaid.NewItemPublicTokenExchangeRequest(publicToken)).Execute()
	if err != nil {
		return simplatform.ItemAccess{}, convertError("public token exchange", err)
	}
	return simplatform.ItemAccess{AccessToken: resp.GetAccessToken(), ItemID: resp.GetItemId()}, nil
}

func (a *Adapter) Accounts(ctx context.Context, accessToken string) (simplatform.Item, []simplatform.Account, error) {
	resp, _, err := a.client.PlaidApi.AccountsGet(ctx).
		AccountsGetRequest(*plaid.NewAccountsGetRequest(accessToken)).Execute()
	if err != nil {
		return simplatform.Item{}, nil, convertError("accounts get", err)
	}
	it := resp.GetItem()
	item := simplatform.Item{ItemID: it.GetItemId(), InstitutionID: it.GetInstitutionId()}
	if item.InstitutionID != "" {
		name, err := a.InstitutionName(ctx, item.InstitutionID)
		if err != nil {
			return simplatform.Item{}, nil, err
		}
		item.InstitutionName = name
	}
	var accounts []simplatform.Account
	for _, acc := range resp.GetAccounts() {
		accounts = append(accounts, simplatform.Account{
			AccountID: acc.GetAccountId(),
			Name:      acc.GetName(),
			Mask:      acc.GetMask(),
			Type:      string(acc.GetType()),
			Subtype:   string(acc.GetSubtype()),
		})
	}
	return item, accounts, nil
}

// InstitutionName looks the name up once per institution (the Item carries
// only the id).
func (a *Adapter) InstitutionName(ctx context.Context, id string) (string, error) {
	a.mu.Lock()
	name, ok := a.institutions[id]
	a.mu.Unlock()
	if ok {
		return name, nil
	}
	resp, _, err := a.client.PlaidApi.InstitutionsGetById(ctx).
		InstitutionsGetByIdRequest(*plaid.NewInstitutionsGetByIdRequest(id, []plaid.CountryCode{plaid.COUNTRYCODE_US})).Execute()
	if err != nil {
		return "", convertError("institution get", err)
	}
	inst := resp.GetInstitution()
	name = inst.GetName()
	a.mu.Lock()
	a.institutions[id] = name
	a.mu.Unlock()
	return name, nil
}

func (a *Adapter) RefreshTransactions(ctx context.Context, accessToken string) error {
	_, _, err := a.client.PlaidApi.TransactionsRefresh(ctx).
		TransactionsRefreshRequest(*plaid.NewTransactionsRefreshRequest(accessToken)).Execute()
	return convertError("transactions refresh", err)
}

func (a *Adapter) Balances(ctx context.Context, accessToken string) (map[string]simplatform.Balance, error) {
	resp, _, err := a.client.PlaidApi.AccountsBalanceGet(ctx).
		AccountsBalanceGetRequest(*plaid.NewAccountsBalanceGetRequest(accessToken)).Execute()
	if err != nil {
		return nil, convertError("balance get", err)
	}
	out := map[string]simplatform.Balance{}
	for _, acc := range resp.GetAccounts() {
		b := acc.GetBalances()
		var bal simplatform.Balance
		if v, ok := b.GetAvailableOk(); ok && v != nil {
			bal.Available = cents(*v)
		}
		if v, ok := b.GetCurrentOk(); ok && v != nil {
			bal.Current = cents(*v)
		}
		out[acc.GetAccountId()] = bal
	}
	return out, nil
}

func cents(v float64) *int64 {
	c := int64(math.Round(v * 100))
	return &c
}

func (a *Adapter) ResetLogin(ctx context.Context, accessToken string) error {
	_, _, err := a.client.PlaidApi.SandboxItemResetLogin(ctx).
		SandboxItemResetLoginRequest(*plaid.NewSandboxItemResetLoginRequest(accessToken)).Execute()
	return convertError("sandbox reset login", err)
}

func (a *Adapter) RemoveItem(ctx context.Context, accessToken string) error {
	_, _, err := a.client.PlaidApi.ItemRemove(ctx).
		ItemRemoveRequest(*plaid.NewItemRemoveRequest(accessToken)).Execute()
	return convertError("item remove", err)
}
