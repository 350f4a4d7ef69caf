package plaidgo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/plaid/plaid-go/v20/plaid"

	simplatform "github.com/bankconnections/portal/sim/platform"
)

// maxWebhookAge is how old a webhook's iat may be (Plaid's rule).
const maxWebhookAge = 5 * time.Minute

// ErrWebhookRejected wraps every reason a webhook fails verification.
var ErrWebhookRejected = errors.New("plaidgo: webhook rejected")

type verificationKey struct {
	pub       *ecdsa.PublicKey
	expiredAt *time.Time
}

type webhookClaims struct {
	IssuedAt          int64  `json:"iat"`
	RequestBodySHA256 string `json:"request_body_sha256"`
}

func (webhookClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (webhookClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (webhookClaims) GetIssuer() (string, error)                   { return "", nil }
func (webhookClaims) GetSubject() (string, error)                  { return "", nil }
func (webhookClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }
func (c webhookClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.IssuedAt, 0)), nil
}

func reject(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrWebhookRejected, fmt.Sprintf(format, args...))
}

// VerifyWebhook checks the Plaid-Verification JWT against the raw body and
// decodes the webhook. Its ID is the body's SHA-256, so a redelivery of the
// same webhook has the same ID.
func (a *Adapter) VerifyWebhook(ctx context.Context, header string, body []byte) (simplatform.Webhook, error) {
	if header == "" {
		return simplatform.Webhook{}, reject("missing Plaid-Verification header")
	}
	var claims webhookClaims
	tok, err := jwt.ParseWithClaims(header, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid in the JWT header")
		}
		key, err := a.verificationKey(ctx, kid)
		if err != nil {
			return nil, err
		}
		if key.expiredAt != nil && !a.now().Before(*key.expiredAt) {
			return nil, fmt.Errorf("key %s expired at %s", kid, key.expiredAt.Format(time.RFC3339))
		}
		return key.pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation())
	if err != nil || !tok.Valid {
		return simplatform.Webhook{}, reject("%v", err)
	}
	iat := time.Unix(claims.IssuedAt, 0)
	if claims.IssuedAt == 0 || a.now().Sub(iat) > maxWebhookAge {
		return simplatform.Webhook{}, reject("iat %s is older than %s", iat.UTC().Format(time.RFC3339), maxWebhookAge)
	}
	if iat.Sub(a.now()) > time.Minute {
		return simplatform.Webhook{}, reject("iat %s is in the future", iat.UTC().Format(time.RFC3339))
	}
	sum := sha256.Sum256(body)
	got := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(claims.RequestBodySHA256)) != 1 {
		return simplatform.Webhook{}, reject("request_body_sha256 does not match the body")
	}
	var payload struct {
		WebhookType string `json:"webhook_type"`
		WebhookCode string `json:"webhook_code"`
		ItemID      string `json:"item_id"`
		Error       *struct {
			ErrorCode string `json:"error_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return simplatform.Webhook{}, reject("body is not JSON: %v", err)
	}
	wh := simplatform.Webhook{
		WebhookType: payload.WebhookType,
		WebhookCode: payload.WebhookCode,
		ItemID:      payload.ItemID,
		ID:          got,
	}
	if payload.Error != nil {
		wh.ErrorCode = payload.Error.ErrorCode
	}
	return wh, nil
}

// verificationKey returns the key with that kid, fetching it once.
func (a *Adapter) verificationKey(ctx context.Context, kid string) (*verificationKey, error) {
	a.mu.Lock()
	key, ok := a.keys[kid]
	a.mu.Unlock()
	if ok {
		return key, nil
	}
	resp, _, err := a.client.PlaidApi.WebhookVerificationKeyGet(ctx).
		WebhookVerificationKeyGetRequest(*plaid.NewWebhookVerificationKeyGetRequest(kid)).Execute()
	if err != nil {
		return nil, fmt.Errorf("fetching key %s: %w", kid, convertError("webhook verification key get", err))
	}
	jwk := resp.GetKey()
	if jwk.GetKty() != "EC" || jwk.GetCrv() != "P-256" || jwk.GetAlg() != "ES256" {
		return nil, fmt.Errorf("key %s is %s/%s/%s, want EC/P-256/ES256", kid, jwk.GetKty(), jwk.GetCrv(), jwk.GetAlg())
	}
	x, errX := base64.RawURLEncoding.DecodeString(jwk.GetX())
	y, errY := base64.RawURLEncoding.DecodeString(jwk.GetY())
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("key %s has malformed coordinates", kid)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("key %s is not on P-256: %w", kid, err)
	}
	key = &verificationKey{pub: pub}
	if exp, ok := jwk.GetExpiredAtOk(); ok && exp != nil {
		t := time.Unix(int64(*exp), 0)
		key.expiredAt = &t
	}
	a.mu.Lock()
	a.keys[kid] = key
	a.mu.Unlock()
	return key, nil
}
