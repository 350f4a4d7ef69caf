package simplatform

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"
)

// handlePlaidWebhook receives Plaid's Item webhooks. An expired login moves
// the Item's accounts to refresh_required; nothing here clears that state
// (LOGIN_REPAIRED included): only the application's PATCH does.
func (s *Server) handlePlaidWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidValue, "Unreadable body")
		return
	}
	ctx := r.Context()
	hook, err := s.plaid.VerifyWebhook(ctx, r.Header.Get("Plaid-Verification"), body)
	if err != nil {
		s.log.WarnContext(ctx, "plaid webhook refused", "err", err)
		writeError(w, http.StatusBadRequest, codeInvalidValue, "Webhook verification failed")
		return
	}
	id := hook.ID
	if id == "" {
		sum := sha256.Sum256(body)
		id = hex.EncodeToString(sum[:])
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
		id, millis(time.Now()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		s.log.InfoContext(ctx, "plaid webhook duplicate ignored", "type", hook.WebhookType, "code", hook.WebhookCode)
		writeJSON(w, http.StatusOK, map[string]bool{"duplicate": true})
		return
	}
	s.log.InfoContext(ctx, "plaid webhook", "type", hook.WebhookType, "code", hook.WebhookCode, "item", hook.ItemID, "error_code", hook.ErrorCode)
	if hook.WebhookType == "ITEM" && hook.WebhookCode == "ERROR" && hook.ErrorCode == "ITEM_LOGIN_REQUIRED" && hook.ItemID != "" {
		_, err := s.db.ExecContext(ctx, `UPDATE external_bank_accounts SET state = ?, updated_at = ?
			WHERE plaid_item_id = ? AND state IN (?, ?) AND pinned = 0`,
			stateRefreshRequired, millis(time.Now()), hook.ItemID, stateCompleted, stateUnverified)
		s.lists.changed()
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"duplicate": false})
}
