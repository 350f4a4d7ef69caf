package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Config configures a Client. BaseURL is the API origin (".../api" is added
// by the client); TokenURL is the OAuth2 token endpoint of the identity host.
type Config struct {
	BaseURL, TokenURL, ClientID, ClientSecret string
	// Scopes asked for in the bank token; default AllScopes (the portal
	// passes what NegotiateScopes granted).
	Scopes []string
	// HTTPClient is used for tokens and API calls; default one with a 60 s timeout.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of a GET or PATCH; default 3, negative for none.
	MaxRetries int
	// RetryBase is the first backoff; it doubles per retry, with jitter. Default 100 ms.
	RetryBase time.Duration
	// AttemptTimeout bounds one HTTP attempt (a timed-out GET/PATCH is retried);
	// zero leaves only HTTPClient's timeout and the caller's ctx.
	AttemptTimeout time.Duration
	// TokenCheckTTL is how long Ready's answer is kept; default 10 s,
	// negative for none.
	TokenCheckTTL time.Duration
	// Token, when set, is a bank token already granted for Scopes (see
	// Grant.Token): the client calls with it until it expires, then asks for
	// a new one.
	Token  *oauth2.Token
	Logger *slog.Logger
}

// Client calls the platform API with a bank token, or with a customer token
// (see ForCustomer). It is safe for concurrent use.
type Client struct {
	baseURL        string
	identityURL    string
	http           *http.Client
	tokens         tokenSource
	maxRetries     int
	retryBase      time.Duration
	attemptTimeout time.Duration
	log            *slog.Logger
	// ready answers Ready; shared by the copies WithToken and ForCustomer make.
	ready *tokenCheck
}

// tokenSource gives the bearer token of a call.
type tokenSource interface {
	token(ctx context.Context) (string, error)
}

// New builds a Client; it does not call the platform until the first request.
func New(cfg Config) *Client {
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 60 * time.Second}
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = AllScopes
	}
	maxRetries := cfg.MaxRetries
	switch {
	case maxRetries == 0:
		maxRetries = 3
	case maxRetries < 0:
		maxRetries = 0
	}
	retryBase := cfg.RetryBase
	if retryBase <= 0 {
		retryBase = 100 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.TokenURL,
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	// The library caches the token and renews it shortly before expiry.
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient)
	ts := cc.TokenSource(tokenCtx)
	if cfg.Token != nil {
		ts = oauth2.ReuseTokenSource(cfg.Token, ts)
	}
	ttl := cfg.TokenCheckTTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	readyCfg := cfg
	readyCfg.HTTPClient, readyCfg.Scopes, readyCfg.Token = httpClient, scopes, nil
	return &Client{
		baseURL:        strings.TrimRight(cfg.BaseURL, "/"),
		identityURL:    origin(cfg.TokenURL),
		http:           httpClient,
		tokens:         oauth2Source{ts},
		maxRetries:     maxRetries,
		retryBase:      retryBase,
		attemptTimeout: cfg.AttemptTimeout,
		log:            log,
		ready:          &tokenCheck{cfg: readyCfg, ttl: ttl},
	}
}

type oauth2Source struct{ ts oauth2.TokenSource }

func (s oauth2Source) token(ctx context.Context) (string, error) {
	tok, err := s.ts.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			return "", errorFromBody(re.Response.StatusCode, re.Body)
		}
		return "", err
	}
	return tok.AccessToken, nil
}

// staticSource is a token minted elsewhere (a customer token handed over).
type staticSource string

func (s staticSource) token(context.Context) (string, error) { return string(s), nil }

// WithToken returns a client that calls the API with the given bearer token,
// e.g. a customer token minted by CreateCustomerToken.
func (c *Client) WithToken(accessToken string) *Client {
	cp := *c
	cp.tokens = staticSource(accessToken)
	return &cp
}

// ForCustomer returns a client acting for one customer: it mints customer
// tokens with this (bank) client and renews them before they expire, so the
// platform itself refuses anything outside that customer's resources.
func (c *Client) ForCustomer(customerGUID string, scopes []string) *Client {
	cp := *c
	cp.tokens = &customerSource{bank: c, customerGUID: customerGUID, scopes: scopes}
	return &cp
}

type customerSource struct {
	bank         *Client
	customerGUID string
	scopes       []string

	mu      sync.Mutex
	current string
	expiry  time.Time
}

func (s *customerSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != "" && time.Until(s.expiry) > time.Minute {
		return s.current, nil
	}
	tok, err := s.bank.CreateCustomerToken(ctx, s.customerGUID, s.scopes)
	if err != nil {
		return "", err
	}
	s.current, s.expiry = tok, tokenExpiry(tok)
	return s.current, nil
}

// request is one API call.
type request struct {
	method string
	url    string
	query  url.Values
	body   any
}

// call makes one request and decodes its answer into a T.
func call[T any](ctx context.Context, c *Client, r request) (T, error) {
	var out T
	err := c.do(ctx, r, &out)
	return out, err
}

// do performs r and decodes a 2xx body into out. GET and PATCH are retried on
// 408, 429, 5xx and transport failures; other methods are sent exactly once.
func (c *Client) do(ctx context.Context, r request, out any) error {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("platform: encode %s body: %w", r.method, err)
		}
	}
	target := r.url
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	retries := 0
	if r.method == http.MethodGet || r.method == http.MethodPatch {
		retries = c.maxRetries
	}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		status, retryAfter, err := c.attempt(ctx, r.method, target, body, out)
		if err == nil {
			c.log.DebugContext(ctx, "platform call", "method", r.method, "url", r.url, "status", status, "duration", time.Since(start))
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("platform: %s %s: %w", r.method, r.url, ctx.Err())
		}
		if attempt >= retries || !IsTemporary(err) {
			c.log.DebugContext(ctx, "platform call failed", "method", r.method, "url", r.url, "status", status, "attempts", attempt+1, "err", err)
			return err
		}
		wait := c.backoff(attempt, retryAfter)
		c.log.WarnContext(ctx, "platform call retried", "method", r.method, "url", r.url, "status", status, "attempt", attempt+1, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("platform: %s %s: %w", r.method, r.url, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt sends one HTTP request. A failure is always an *Error (Status 0 for
// a transport failure) unless the caller's ctx ended.
func (c *Client) attempt(ctx context.Context, method, target string, body []byte, out any) (status int, retryAfter time.Duration, err error) {
	if c.attemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.attemptTimeout)
		defer cancel()
	}
	token, err := c.tokens.token(ctx)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return pe.Status, 0, err
		}
		return 0, 0, transportError(err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, 0, fmt.Errorf("platform: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, 0, transportError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After")), errorFromBody(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("platform: decode %s response: %w", method, err)
		}
	}
	return resp.StatusCode, 0, nil
}

func transportError(err error) error {
	e := &Error{ErrorMessage: "no response from the platform", err: err}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.MessageCode = CodeRequestTimeout
		e.ErrorMessage = "the platform did not answer in time"
	}
	return e
}

// errorFromBody decodes the contract's error body; anything else still gives
// an *Error carrying the status.
func errorFromBody(status int, body []byte) error {
	e := &Error{}
	if json.Unmarshal(body, e) != nil || (e.MessageCode == "" && e.ErrorMessage == "") {
		e = &Error{ErrorMessage: http.StatusText(status)}
	}
	e.Status = status
	return e
}

func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := c.retryBase << attempt
	if d > 10*time.Second || d <= 0 {
		d = 10 * time.Second
	}
	// Equal jitter: half fixed, half random, so concurrent callers spread out.
	d = d/2 + rand.N(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, 30*time.Second)
	}
	return d
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (c *Client) apiURL(parts ...string) string {
	var b strings.Builder
	b.WriteString(c.baseURL)
	b.WriteString("/api")
	for _, p := range parts {
		b.WriteString("/")
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// listQuery builds page, per_page and comma-separated filters.
func listQuery(page, perPage int, filters map[string][]string) url.Values {
	q := url.Values{}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if perPage > 0 {
		q.Set("per_page", strconv.Itoa(perPage))
	}
	for name, values := range filters {
		if len(values) > 0 {
			q.Set(name, strings.Join(values, ","))
		}
	}
	return q
}
