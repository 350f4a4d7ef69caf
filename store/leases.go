package store

import (
	"context"
	"database/sql"
	"time"
)

// Leases: several portal instances may share the database, so no work is
// owned by "this process". A piece of queued work is held by the instance
// that claimed it until its lease runs out (for completions and emails the
// lease is next_attempt_at, pushed forward by the claim); an instance that
// dies simply lets its leases run out and another one takes the work over.

// skipLocked is the locking clause of a batch claim's inner SELECT. SQLite
// serializes writers, so a claim there needs none; PostgreSQL's lets
// concurrent claims pass over rows another claim is taking instead of
// waiting for it and then claiming nothing. The SELECT is a MATERIALIZED
// CTE, run once: as a plain IN subquery PostgreSQL may run it again for
// each row it updates, and every run skips the rows the statement has just
// updated, so one claim would take the whole queue whatever its limit.
func (db *DB) skipLocked() string {
	if db.Engine() == "postgres" {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// TakeLease takes the named lease for holder until a time, or renews it when
// holder has it already, in one statement; it reports whether holder holds
// it now. A lease held by someone else is taken only once it has run out.
func (db *DB) TakeLease(ctx context.Context, name, holder string, until time.Time) (_ bool, err error) {
	defer wrap(&err, "take lease")
	res, err := db.write.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.until < ? OR leases.holder = ?`, name, holder, formatTime(until), formatTime(db.now()), holder)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseLease gives the named lease up if holder has it, so another
// instance need not wait for it to run out.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) (err error) {
	defer wrap(&err, "release lease")
	_, err = db.write.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}

// ClaimDueCompletions claims up to limit queued completions that are due, in
// one statement: each gets an attempt counted and its next attempt pushed to
// until, which is the claimer's lease (the work must end before it; if the
// claimer dies, the completion is due again then). The completions are
// returned as they were before the claim (Attempts not yet counted).
func (db *DB) ClaimDueCompletions(ctx context.Context, limit int, until time.Time) (_ []Completion, err error) {
	defer wrap(&err, "claim due completions")
	now := formatTime(db.now())
	var out []Completion
	err = db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `WITH picked AS MATERIALIZED (SELECT id FROM completions WHERE state = 'queued' AND next_attempt_at <= ?
				ORDER BY next_attempt_at LIMIT ?`+db.skipLocked()+`)
			UPDATE completions SET attempts = attempts + 1, next_attempt_at = ?, updated_at = ?
			WHERE id IN (SELECT id FROM picked) AND state = 'queued' AND next_attempt_at <= ?
			RETURNING `+completionColumns, now, limit, formatTime(until), now, now)
		if err != nil {
			return err
		}
		out, err = collect(rows, scanCompletion)
		return err
	})
	for i := range out {
		out[i].Attempts-- // as it was before this claim
	}
	return out, err
}

// MarkCompletionOutcomeUnknown notes, before a create is sent, that the
// platform may act on it even if no answer comes back: a later attempt then
// looks for the account before sending again.
func (db *DB) MarkCompletionOutcomeUnknown(ctx context.Context, id int64) (err error) {
	defer wrap(&err, "mark completion outcome unknown")
	_, err = db.write.ExecContext(ctx, `UPDATE completions SET outcome_unknown = 1, updated_at = ? WHERE id = ? AND state = 'queued'`,
		formatTime(db.now()), id)
	return err
}

// ClaimDueEmails claims up to limit queued emails that are due, in one
// statement, like ClaimDueCompletions: until is the claimer's lease. The
// emails are returned as they were before the claim.
func (db *DB) ClaimDueEmails(ctx context.Context, limit int, until time.Time) (_ []Email, err error) {
	defer wrap(&err, "claim due emails")
	now := formatTime(db.now())
	var out []Email
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = collectEmails(tx.QueryContext(ctx, `WITH picked AS MATERIALIZED (SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= ?
				ORDER BY next_attempt_at LIMIT ?`+db.skipLocked()+`)
			UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?
			WHERE id IN (SELECT id FROM picked) AND state = 'queued' AND next_attempt_at <= ?
			RETURNING `+emailColumns, now, limit, formatTime(until), now))
		return err
	})
	for i := range out {
		out[i].Attempts--
	}
	return out, err
}

// RenewRefreshJob extends the lease of a running refresh its holder still
// has; it reports false when the job is no longer running under holder (it
// finished, or another instance ended it after the lease ran out).
func (db *DB) RenewRefreshJob(ctx context.Context, id int64, holder string, until time.Time) (_ bool, err error) {
	defer wrap(&err, "renew refresh job")
	res, err := db.write.ExecContext(ctx, `UPDATE refresh_jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND holder = ?`,
		formatTime(until), id, holder)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
