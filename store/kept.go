package store

import "context"

// KeptLinkResult is a Link result that was refused before it could be
// completed and waits for its owner's next sign-in.
type KeptLinkResult struct {
	LinkSessionID string
	Result        string // JSON, as the connections package wrote it
}

// KeepLinkResult stores a refused Link result when the session cookie it came
// with (live or not) belongs to the link session's owner and the link session
// has no completion yet. It reports whether a result is now kept for it; the
// first one kept wins.
func (db *DB) KeepLinkResult(ctx context.Context, sessionID, linkSessionID, result string) (_ bool, err error) {
	defer wrap(&err, "keep link result")
	res, err := db.write.ExecContext(ctx, `INSERT INTO kept_link_results (link_session_id, result, created_at)
		SELECT l.id, ?, ? FROM link_sessions l JOIN sessions s ON s.user_id = l.user_id
		WHERE l.id = ? AND s.id = ? AND NOT EXISTS (SELECT 1 FROM completions c WHERE c.link_session_id = l.id)
		ON CONFLICT (link_session_id) DO NOTHING`, result, formatTime(db.now()), linkSessionID, sessionID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return true, nil
	}
	var n int
	err = db.queryRow(ctx, `SELECT COUNT(*) FROM kept_link_results k JOIN link_sessions l ON l.id = k.link_session_id
		JOIN sessions s ON s.user_id = l.user_id WHERE k.link_session_id = ? AND s.id = ?`, linkSessionID, sessionID).Scan(&n)
	return n > 0, err
}

// KeptLinkResults lists the kept results of a user's link sessions, oldest first.
func (db *DB) KeptLinkResults(ctx context.Context, userID int64) (_ []KeptLinkResult, err error) {
	defer wrap(&err, "kept link results")
	rows, err := db.query(ctx, `SELECT k.link_session_id, k.result FROM kept_link_results k JOIN link_sessions l ON l.id = k.link_session_id
		WHERE l.user_id = ? ORDER BY k.created_at`, userID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (k KeptLinkResult, err error) {
		err = r.Scan(&k.LinkSessionID, &k.Result)
		return k, err
	})
}

// DeleteKeptLinkResult forgets a kept result once it has been completed (or refused for good).
func (db *DB) DeleteKeptLinkResult(ctx context.Context, linkSessionID string) (err error) {
	defer wrap(&err, "delete kept link result")
	_, err = db.write.ExecContext(ctx, `DELETE FROM kept_link_results WHERE link_session_id = ?`, linkSessionID)
	return err
}
