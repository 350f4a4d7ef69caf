package platform

import (
	"context"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CreateCustomerToken mints a token that sees only one customer's resources
// (POST /api/customer_tokens on the identity host). It needs a bank token with
// customers:read and customers:write. Never retried.
func (c *Client) CreateCustomerToken(ctx context.Context, customerGUID string, scopes []string) (string, error) {
	body := struct {
		CustomerGUID string   `json:"customer_guid"`
		Scopes       []string `json:"scopes"`
	}{customerGUID, scopes}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := c.do(ctx, request{method: http.MethodPost, url: c.identityURL + "/api/customer_tokens", body: body}, &out)
	if err != nil {
		return "", err
	}
	return out.AccessToken, nil
}

// tokenExpiry reads a JWT's exp without verifying it: the platform verifies,
// the client only needs to know when to mint the next one.
func tokenExpiry(token string) time.Time {
	claims := jwt.RegisteredClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Now().Add(5 * time.Minute)
	}
	return claims.ExpiresAt.Time
}
