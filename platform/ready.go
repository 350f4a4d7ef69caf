package platform

import (
	"context"
	"sync"
	"time"
)

// tokenCheck remembers the token endpoint's last answer for a while, so a
// readiness probe every second does not ask for a token every second.
type tokenCheck struct {
	cfg Config
	ttl time.Duration

	mu      sync.Mutex
	checked time.Time
	err     error
}

// Ready reports whether a bank token can be had now. Unlike CheckToken it
// asks the token endpoint for a fresh token (the cached one the API calls
// use may outlive the endpoint by an hour), at most once per TokenCheckTTL,
// and gives up after 5 s. Concurrent callers share one request.
func (c *Client) Ready(ctx context.Context) error {
	t := c.ready
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.checked.IsZero() && time.Since(t.checked) < t.ttl {
		return t.err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := requestToken(ctx, t.cfg, t.cfg.Scopes)
	t.checked, t.err = time.Now(), err
	return err
}
