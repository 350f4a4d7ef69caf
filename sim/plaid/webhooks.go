package simplaid

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func (s *Server) newSigningKey() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	s.signingKey = key
	s.keyID = newUUID()
	s.keyCreated = s.now()
	return nil
}

func (s *Server) webhookVerificationKeyGet(r *http.Request, body []byte) (any, *apiError) {
	var req struct {
		KeyID string `json:"key_id"`
	}
	if e := decodeBody(body, &req); e != nil {
		return nil, e
	}
	if req.KeyID == "" {
		return nil, errInvalidRequest("MISSING_FIELDS", "the following required fields are missing: key_id")
	}
	if req.KeyID != s.keyID {
		return nil, errInvalidRequest("INVALID_FIELD", "key_id does not name a webhook verification key")
	}
	pub := s.signingKey.PublicKey
	ecdh, err := pub.ECDH()
	if err != nil {
		return nil, &apiError{Status: 500, Type: "API_ERROR", Code: "INTERNAL_SERVER_ERROR", Message: "key encoding failed"}
	}
	// Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
	raw := ecdh.Bytes()
	return map[string]any{"key": map[string]any{
		"alg":        "ES256",
		"crv":        "P-256",
		"kid":        s.keyID,
		"kty":        "EC",
		"use":        "sig",
		"x":          base64.RawURLEncoding.EncodeToString(raw[1:33]),
		"y":          base64.RawURLEncoding.EncodeToString(raw[33:65]),
		"created_at": s.keyCreated.Unix(),
		"expired_at": nil,
	}}, nil
}

// signWebhook returns the Plaid-Verification header for a raw body.
func (s *Server) signWebhook(body []byte) (string, error) {
	sum := sha256.Sum256(body)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iat":                 s.now().Unix(),
		"request_body_sha256": hex.EncodeToString(sum[:]),
	})
	tok.Header["kid"] = s.keyID
	return tok.SignedString(s.signingKey)
}

// fireWebhook sends a webhook for the Item with that id, if it has a URL.
func (s *Server) fireWebhook(itemID, typ, code string, e *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[itemID]; it != nil {
		s.fireWebhookLocked(it, typ, code, e)
	}
}

// fireWebhookLocked builds and signs the webhook now and delivers it in the
// background. Callers hold s.mu.
func (s *Server) fireWebhookLocked(it *item, typ, code string, e *apiError) {
	if it.webhook == "" {
		return
	}
	payload := map[string]any{
		"webhook_type": typ,
		"webhook_code": code,
		"item_id":      it.id,
		"environment":  "sandbox",
	}
	if e != nil {
		payload["error"] = e.webhookBody()
	} else if typ == "ITEM" {
		payload["error"] = nil
	}
	switch code {
	case "SYNC_UPDATES_AVAILABLE":
		payload["initial_update_complete"] = true
		payload["historical_update_complete"] = true
	case "DEFAULT_UPDATE", "INITIAL_UPDATE", "HISTORICAL_UPDATE":
		payload["new_transactions"] = 0
	case "TRANSACTIONS_REMOVED":
		payload["removed_transactions"] = []string{}
	case "PENDING_EXPIRATION":
		// The Item reports the same end from now on, as Plaid's does.
		it.consentExpires = s.now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second)
		payload["consent_expiration_time"] = it.consentExpires.Format(time.RFC3339)
	case "PENDING_DISCONNECT":
		payload["reason"] = "INSTITUTION_MIGRATION"
	case "WEBHOOK_UPDATE_ACKNOWLEDGED":
		payload["new_webhook_url"] = it.webhook
	}
	body, err := json.Marshal(payload)
	if err != nil {
		s.log.Error("plaid stand-in: webhook encode", "err", err)
		return
	}
	sig, err := s.signWebhook(body)
	if err != nil {
		s.log.Error("plaid stand-in: webhook sign", "err", err)
		return
	}
	url := it.webhook
	s.deliveries.Add(1)
	go func() {
		defer s.deliveries.Done()
		s.deliver(url, sig, body, typ, code)
	}()
}

// deliver POSTs a webhook, retrying a few times like Plaid does when the
// receiver does not answer 200.
func (s *Server) deliver(url, sig string, body []byte, typ, code string) {
	backoff := 500 * time.Millisecond
	for attempt := 1; attempt <= 3; attempt++ {
		err := s.post(url, sig, body)
		if err == nil {
			s.log.Info("plaid stand-in: webhook delivered", "type", typ, "code", code, "attempt", attempt)
			return
		}
		s.log.Warn("plaid stand-in: webhook delivery failed", "type", typ, "code", code, "attempt", attempt, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.closeCtx.Done():
			t.Stop()
			return
		}
		backoff *= 2
	}
}

func (s *Server) post(url, sig string, body []byte) error {
	req, err := http.NewRequestWithContext(s.closeCtx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Plaid-Verification", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
