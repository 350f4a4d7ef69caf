package store

import (
	"context"
	"time"
)

// CreateSession records a new server-side session for a user.
func (db *DB) CreateSession(ctx context.Context, id string, userID int64, ttl time.Duration) (err error) {
	defer wrap(&err, "create session")
	now := db.now()
	_, err = db.write.ExecContext(ctx, `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		id, userID, formatTime(now), formatTime(now.Add(ttl)))
	return err
}

// SessionUser returns the user of a live session: not revoked, not expired.
func (db *DB) SessionUser(ctx context.Context, id string) (_ User, err error) {
	defer wrap(&err, "session user")
	type live struct {
		user    User
		expires string
	}
	// A revocation by another process (an operator's subcommand) counts from this request on.
	db.SeeOtherWrites()
	s, err := cached(db, "session:"+id, func() (live, error) {
		var l live
		var created, changed string
		// A disabled user's sessions are revoked when it is disabled; the
		// condition here also covers a session made in the same instant.
		err := db.queryRow(ctx, `SELECT u.id, u.email, u.password_hash, u.role, COALESCE(u.customer_guid, ''), u.created_at, u.password_changed_at, s.expires_at
			FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.id = ? AND s.revoked_at IS NULL AND u.disabled_at IS NULL`, id).Scan(&l.user.ID, &l.user.Email, &l.user.PasswordHash, &l.user.Role, &l.user.CustomerGUID, &created, &changed, &l.expires)
		if err != nil {
			return l, notFound(err)
		}
		l.user.CreatedAt, l.user.PasswordChangedAt = parseTime(created), parseTime(changed)
		return l, nil
	})
	if err != nil {
		return User{}, err
	}
	if s.expires <= formatTime(db.now()) {
		return User{}, ErrNotFound
	}
	return s.user, nil
}

// RevokeSession ends a session server-side, so a copied cookie stops working.
func (db *DB) RevokeSession(ctx context.Context, id string) (err error) {
	defer wrap(&err, "revoke session")
	_, err = db.write.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, formatTime(db.now()), id)
	return err
}

// endedSessionGrace is how long an ended session's row outlives it: a Link
// result posted with its cookie can then still be matched to its owner and
// kept for the next sign-in (see KeepLinkResult).
const endedSessionGrace = time.Hour

// DeleteExpiredSessions removes sessions that ended over endedSessionGrace ago.
func (db *DB) DeleteExpiredSessions(ctx context.Context) (_ int64, err error) {
	defer wrap(&err, "delete expired sessions")
	res, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?1 OR revoked_at <= ?1`, formatTime(db.now().Add(-endedSessionGrace)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
