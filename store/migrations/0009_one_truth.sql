-- A customer may hide a disconnected connection from their list once seen.
ALTER TABLE accounts ADD COLUMN hidden_at TEXT;

-- A banner holds only while its connection is in this state (NULL: until dismissed).
ALTER TABLE notifications ADD COLUMN reason_state TEXT;
UPDATE notifications SET reason_state = 'refresh_required'
    WHERE kind IN ('refresh_required', 'reminder') OR (kind = 'completion_failed' AND account_guid IS NOT NULL);
UPDATE notifications SET dismissed_at = created_at
    WHERE dismissed_at IS NULL AND reason_state IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.guid = notifications.account_guid AND a.state = notifications.reason_state);

-- An update whose own account was left unselected in Link: nothing is PATCHed;
-- the owner is asked before the connection is disconnected.
ALTER TABLE completions ADD COLUMN unselected INTEGER NOT NULL DEFAULT 0;
