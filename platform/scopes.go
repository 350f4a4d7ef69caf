package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// CoreScopes are what accounts and Link need: list, read, create, patch and
// delete external bank accounts, create and poll workflows, and mint
// customer tokens (customers:read and customers:write).
var CoreScopes = []string{
	ScopeExternalBankAccountsRead, ScopeExternalBankAccountsWrite, ScopeExternalBankAccountsExecute,
	ScopeWorkflowsRead, ScopeWorkflowsExecute,
	ScopeCustomersRead, ScopeCustomersWrite,
}

// Feature is an optional part of the portal and the scopes it needs beyond
// CoreScopes.
type Feature struct {
	Name   string
	Scopes []string
}

// FeatureTransfers is deposits and withdrawals: funding quotes, transfers
// and following them.
var FeatureTransfers = Feature{Name: "transfers", Scopes: []string{ScopeQuotesExecute, ScopeTransfersRead, ScopeTransfersExecute}}

// Features lists the optional features.
var Features = []Feature{FeatureTransfers}

// DefaultScopes are what the portal asks for with every feature on.
func DefaultScopes() []string {
	out := slices.Clone(CoreScopes)
	for _, f := range Features {
		out = append(out, f.Scopes...)
	}
	return out
}

// ParseScopes reads a space- or comma-separated scope list ("" is
// DefaultScopes). Every scope must be one of the platform's, and the core
// scopes must all be there: without them accounts and Link cannot work.
func ParseScopes(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(fields) == 0 {
		return DefaultScopes(), nil
	}
	var out []string
	for _, f := range fields {
		if !slices.Contains(AllScopes, f) {
			return nil, fmt.Errorf("unknown scope %q (the platform's are: %s)", f, strings.Join(AllScopes, " "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	var missing []string
	for _, c := range CoreScopes {
		if !slices.Contains(out, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("accounts and Link need the scopes %s", strings.Join(missing, " "))
	}
	return out, nil
}

// Grant is the outcome of NegotiateScopes.
type Grant struct {
	// Scopes the platform granted: ask for exactly these from now on.
	Scopes []string
	// Off are the optional features switched off, with the reason for each.
	Off map[string]string
	// Token is the bank token the platform granted for Scopes, for the client
	// to start with (Config.Token) instead of asking again; nil when the
	// platform could not be asked.
	Token *oauth2.Token
}

// Enabled tells whether feature f is on.
func (g Grant) Enabled(f Feature) bool {
	_, off := g.Off[f.Name]
	return !off
}

// NegotiateScopes asks the platform for a bank token with scopes and, when
// the platform refuses a scope (403 invalid_scopes: the API key lacks it),
// finds which optional features the key cannot serve and leaves their scopes
// out, so one missing scope switches one feature off instead of failing every
// call. A feature whose scopes are not all in scopes is off from the start.
// It fails when the core scopes themselves are refused, and with the
// platform's error when the platform could not be asked (the caller may go on
// with scopes).
func NegotiateScopes(ctx context.Context, cfg Config, scopes []string) (Grant, error) {
	g := Grant{Off: map[string]string{}}
	var optional []Feature
	base := slices.Clone(scopes)
	for _, f := range Features {
		configured := true
		for _, sc := range f.Scopes {
			configured = configured && slices.Contains(scopes, sc)
		}
		if !configured {
			g.Off[f.Name] = "its scopes (" + strings.Join(f.Scopes, " ") + ") are not in the configured scopes"
		} else {
			optional = append(optional, f)
		}
		base = slices.DeleteFunc(base, func(sc string) bool { return slices.Contains(f.Scopes, sc) })
	}
	withOptional := func(fs []Feature) []string {
		out := slices.Clone(base)
		for _, f := range fs {
			out = append(out, f.Scopes...)
		}
		return out
	}
	// Until the platform says otherwise, every configured feature is on.
	g.Scopes = withOptional(optional)
	tok, err := requestToken(ctx, cfg, g.Scopes)
	if err == nil || !isInvalidScopes(err) {
		g.Token = tok
		return g, err
	}
	if tok, err = requestToken(ctx, cfg, base); err != nil {
		if isInvalidScopes(err) {
			return g, fmt.Errorf("the platform API key lacks a scope accounts and Link need (%s): %w", strings.Join(base, " "), err)
		}
		return g, err
	}
	var on []Feature
	for i, f := range optional {
		t, err := requestToken(ctx, cfg, withOptional(append(slices.Clone(on), f)))
		switch {
		case err == nil:
			on, tok = append(on, f), t
		case isInvalidScopes(err):
			g.Off[f.Name] = "the platform refused its scopes (" + strings.Join(f.Scopes, " ") + "): the API key lacks at least one"
		default:
			// The platform stopped answering halfway: at least one configured
			// scope is refused, so asking for them all would fail every call.
			// Go on with what was granted; the features not yet asked about
			// stay off until the next start.
			for _, rest := range optional[i:] {
				g.Off[rest.Name] = "the platform could not be asked about its scopes at start (" + err.Error() + ")"
			}
			g.Scopes, g.Token = withOptional(on), tok
			return g, err
		}
	}
	// tok is the last token granted: for base and every feature left on.
	g.Scopes, g.Token = withOptional(on), tok
	return g, nil
}

// requestToken asks for a fresh bank token with scopes.
func requestToken(ctx context.Context, cfg Config, scopes []string) (*oauth2.Token, error) {
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	cc := &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL,
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInParams}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, httpClient))
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		return nil, errorFromBody(re.Response.StatusCode, re.Body)
	}
	if err != nil {
		return nil, transportError(err)
	}
	return tok, nil
}

// IsInvalidScopes reports whether err is the platform's refusal of a scope
// (403 invalid_scopes).
func IsInvalidScopes(err error) bool { return isInvalidScopes(err) }

func isInvalidScopes(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.MessageCode == CodeInvalidScopes
}

// CheckToken gets the client's token (a cached one if still valid): an
// *Error when the platform refuses it.
func (c *Client) CheckToken(ctx context.Context) error {
	_, err := c.tokens.token(ctx)
	return err
}
