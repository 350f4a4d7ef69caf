package store

import (
	"context"
	"database/sql"
	"time"
)

// Audit results.
const (
	AuditOK      = "ok"
	AuditFailed  = "failed"
	AuditStarted = "started"
	AuditRefused = "refused"
)

// AuditEntry is one admin action on a connection: who, what, when, how it ended.
type AuditEntry struct {
	ID          int64
	At          time.Time
	ActorUserID int64
	ActorEmail  string
	Action      string
	AccountGUID string
	Result      string
	Detail      string
	Ref         string // e.g. the Link session the action belongs to
}

// AddAudit records an admin action and returns its id.
func (db *DB) AddAudit(ctx context.Context, e AuditEntry) (_ int64, err error) {
	defer wrap(&err, "add audit")
	var actor any
	if e.ActorUserID != 0 {
		actor = e.ActorUserID
	}
	return db.write.insertID(ctx, `INSERT INTO audit_log (at, actor_user_id, actor_email, action, account_guid, result, detail, ref)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, formatTime(db.now()), actor, e.ActorEmail, e.Action, nullString(e.AccountGUID), e.Result, e.Detail, e.Ref)
}

const auditColumns = `id, at, COALESCE(actor_user_id, 0), actor_email, action, COALESCE(account_guid, ''), result, detail, ref`

func collectAudit(rows *sql.Rows, err error) ([]AuditEntry, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (e AuditEntry, _ error) {
		var at string
		if err := r.Scan(&e.ID, &at, &e.ActorUserID, &e.ActorEmail, &e.Action, &e.AccountGUID, &e.Result, &e.Detail, &e.Ref); err != nil {
			return e, err
		}
		e.At = parseTime(at)
		return e, nil
	})
}

// Audit returns one audit entry.
func (db *DB) Audit(ctx context.Context, id int64) (_ AuditEntry, err error) {
	defer wrap(&err, "audit")
	out, err := collectAudit(db.query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE id = ?`, id))
	if err != nil {
		return AuditEntry{}, err
	}
	if len(out) == 0 {
		return AuditEntry{}, ErrNotFound
	}
	return out[0], nil
}

// AuditForAccount lists the admin actions on a connection, oldest first.
func (db *DB) AuditForAccount(ctx context.Context, accountGUID string) (_ []AuditEntry, err error) {
	defer wrap(&err, "audit for account")
	return collectAudit(db.query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE account_guid = ? ORDER BY id LIMIT 500`, accountGUID))
}

// AuditForRef lists the admin actions that belong to one reference (e.g. a Link session), oldest first.
func (db *DB) AuditForRef(ctx context.Context, ref string) (_ []AuditEntry, err error) {
	defer wrap(&err, "audit for ref")
	if ref == "" {
		return nil, nil
	}
	return collectAudit(db.query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE ref = ? AND ref <> '' ORDER BY id LIMIT 500`, ref)) // the second term lets SQLite use the partial index
}
