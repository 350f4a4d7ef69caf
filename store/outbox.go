package store

import (
	"context"
	"database/sql"
	"time"
)

// Outbox states.
const (
	EmailQueued = "queued"
	EmailSent   = "sent"
	EmailFailed = "failed"
)

// Email is one message of the outbox.
type Email struct {
	ID            int64
	To            string
	Subject       string
	Body          string
	AccountGUID   string // the connection it is about, if any
	State         string
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreatedAt     time.Time
	SentAt        *time.Time
}

// QueueEmail adds a message to the outbox; the worker sends it when SMTP is configured.
func (db *DB) QueueEmail(ctx context.Context, e Email) (_ int64, err error) {
	defer wrap(&err, "queue email")
	now := formatTime(db.now())
	return db.write.insertID(ctx, `INSERT INTO outbox (to_addr, subject, body, account_guid, state, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, 'queued', ?, ?) RETURNING id`, e.To, e.Subject, e.Body, nullString(e.AccountGUID), now, now)
}

const emailColumns = `id, to_addr, subject, body, COALESCE(account_guid, ''), state, attempts, last_error, next_attempt_at, created_at, sent_at`

func collectEmails(rows *sql.Rows, err error) ([]Email, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (e Email, _ error) {
		var next, created string
		var sent sql.NullString
		if err := r.Scan(&e.ID, &e.To, &e.Subject, &e.Body, &e.AccountGUID, &e.State, &e.Attempts, &e.LastError, &next, &created, &sent); err != nil {
			return e, err
		}
		e.NextAttemptAt, e.CreatedAt, e.SentAt = parseTime(next), parseTime(created), scanNullTime(sent)
		return e, nil
	})
}

// Emails lists the outbox newest first, optionally only one state.
func (db *DB) Emails(ctx context.Context, state string, limit int) (_ []Email, err error) {
	defer wrap(&err, "emails")
	if state == "" {
		return collectEmails(db.query(ctx, `SELECT `+emailColumns+` FROM outbox ORDER BY id DESC LIMIT ?`, limit))
	}
	return collectEmails(db.query(ctx, `SELECT `+emailColumns+` FROM outbox WHERE state = ? ORDER BY id DESC LIMIT ?`, state, limit))
}

// EmailsForAccount lists the messages about a connection, oldest first.
func (db *DB) EmailsForAccount(ctx context.Context, accountGUID string) (_ []Email, err error) {
	defer wrap(&err, "emails for account")
	return collectEmails(db.query(ctx, `SELECT `+emailColumns+` FROM outbox WHERE account_guid = ? ORDER BY id LIMIT 500`, accountGUID))
}

// DueEmails lists queued messages whose next attempt is due.
func (db *DB) DueEmails(ctx context.Context, limit int) (_ []Email, err error) {
	defer wrap(&err, "due emails")
	return collectEmails(db.query(ctx, `SELECT `+emailColumns+` FROM outbox
		WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`, formatTime(db.now()), limit))
}

// ClaimEmail counts an attempt and pushes the next one to retryAt before
// sending, so a crash mid-send retries later and two workers never send at once.
func (db *DB) ClaimEmail(ctx context.Context, id int64, retryAt time.Time) (_ bool, err error) {
	defer wrap(&err, "claim email")
	now := formatTime(db.now())
	res, err := db.write.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?
		WHERE id = ? AND state = 'queued' AND next_attempt_at <= ?`, formatTime(retryAt), id, now)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// MarkEmailSent records a delivered message.
func (db *DB) MarkEmailSent(ctx context.Context, id int64) (err error) {
	defer wrap(&err, "mark email sent")
	now := formatTime(db.now())
	_, err = db.write.ExecContext(ctx, `UPDATE outbox SET state = 'sent', sent_at = ?, last_error = '' WHERE id = ?`, now, id)
	return err
}

// RetryEmail records a failed attempt and when to try again.
func (db *DB) RetryEmail(ctx context.Context, id int64, next time.Time, errText string) (err error) {
	defer wrap(&err, "retry email")
	_, err = db.write.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ? AND state = 'queued'`,
		formatTime(next), errText, id)
	return err
}

// FailEmail gives up on a message.
func (db *DB) FailEmail(ctx context.Context, id int64, errText string) (err error) {
	defer wrap(&err, "fail email")
	_, err = db.write.ExecContext(ctx, `UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?`, errText, id)
	return err
}
