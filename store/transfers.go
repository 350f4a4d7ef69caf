package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Local states of a transfer: quoted and submitting are the portal's own;
// the others mirror the platform's.
const (
	TransferQuoted     = "quoted"
	TransferSubmitting = "submitting"
	TransferStoring    = "storing"
	TransferPending    = "pending"
	TransferHolding    = "holding"
	TransferReviewing  = "reviewing"
	TransferCompleted  = "completed"
	TransferFailed     = "failed"
	TransferCancelling = "cancelling"
)

// Transfer is a funding deposit or withdrawal, from the quote on.
type Transfer struct {
	ID             int64
	Key            string // idempotency key of the confirm form
	CustomerGUID   string
	AccountGUID    string
	Side           string // deposit | withdrawal
	Rail           string // ach | wire
	Amount         int64  // cents
	Fee            int64
	QuoteGUID      string
	QuoteExpiresAt time.Time // zero: the quote has no expiry
	TransferGUID   string    // the platform's; empty until it answered
	State          string
	FailureCode    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Open tells whether the transfer may still change: it has been sent and is
// in none of the final states.
func (t Transfer) Open() bool {
	return t.State != TransferQuoted && t.State != TransferCompleted && t.State != TransferFailed
}

// QuoteExpired tells whether the quote can no longer be confirmed at now; a
// quote without an expiry never expires.
func (t Transfer) QuoteExpired(now time.Time) bool {
	return !t.QuoteExpiresAt.IsZero() && !now.Before(t.QuoteExpiresAt)
}

const transferColumns = `id, idempotency_key, customer_guid, account_guid, side, rail, amount, fee, quote_guid, COALESCE(quote_expires_at, ''),
	COALESCE(transfer_guid, ''), state, failure_code, created_at, updated_at`

func scanTransfer(row interface{ Scan(...any) error }) (Transfer, error) {
	var t Transfer
	var expires, created, updated string
	err := row.Scan(&t.ID, &t.Key, &t.CustomerGUID, &t.AccountGUID, &t.Side, &t.Rail, &t.Amount, &t.Fee, &t.QuoteGUID, &expires,
		&t.TransferGUID, &t.State, &t.FailureCode, &created, &updated)
	if err != nil {
		return Transfer{}, notFound(err)
	}
	t.QuoteExpiresAt, t.CreatedAt, t.UpdatedAt = parseTime(expires), parseTime(created), parseTime(updated)
	return t, nil
}

func collectTransfers(rows *sql.Rows, err error) ([]Transfer, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, scanTransfer)
}

// CreateQuotedTransfer stores a quote the customer is about to confirm.
// A key or quote used before is ErrConflict.
func (db *DB) CreateQuotedTransfer(ctx context.Context, t Transfer) (_ Transfer, err error) {
	defer wrap(&err, "create quoted transfer")
	now := formatTime(db.now())
	id, err := db.write.insertID(ctx, `INSERT INTO transfers
		(idempotency_key, customer_guid, account_guid, side, rail, amount, fee, quote_guid, quote_expires_at, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'quoted', ?, ?) RETURNING id`,
		t.Key, t.CustomerGUID, t.AccountGUID, t.Side, t.Rail, t.Amount, t.Fee, t.QuoteGUID, nullTime(&t.QuoteExpiresAt), now, now)
	if isUniqueViolation(err) {
		return Transfer{}, ErrConflict
	}
	if err != nil {
		return Transfer{}, err
	}
	return db.transfer(ctx, id)
}

func (db *DB) transfer(ctx context.Context, id int64) (Transfer, error) {
	return scanTransfer(db.write.QueryRowContext(ctx, `SELECT `+transferColumns+` FROM transfers WHERE id = ?`, id))
}

// CustomerTransfer returns a transfer by its key, only to its customer.
func (db *DB) CustomerTransfer(ctx context.Context, customerGUID, key string) (_ Transfer, err error) {
	defer wrap(&err, "customer transfer")
	return scanTransfer(db.queryRow(ctx, `SELECT `+transferColumns+` FROM transfers
		WHERE idempotency_key = ? AND customer_guid = ?`, key, customerGUID))
}

// ClaimTransfer moves a quoted transfer to submitting and reports whether
// this call did: of two submits of one confirm form, only one claims it.
func (db *DB) ClaimTransfer(ctx context.Context, customerGUID, key string) (_ bool, err error) {
	defer wrap(&err, "claim transfer")
	res, err := db.write.ExecContext(ctx, `UPDATE transfers SET state = 'submitting', updated_at = ?
		WHERE idempotency_key = ? AND customer_guid = ? AND state = 'quoted'`, formatTime(db.now()), key, customerGUID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecordTransfer stores what the platform said about a transfer: its guid
// (once known), state and failure code. A final state is never left.
func (db *DB) RecordTransfer(ctx context.Context, id int64, transferGUID, state, failureCode string) (err error) {
	defer wrap(&err, "record transfer")
	_, err = db.write.ExecContext(ctx, `UPDATE transfers
		SET transfer_guid = COALESCE(transfer_guid, ?), state = ?, failure_code = ?, updated_at = ?
		WHERE id = ? AND state NOT IN ('completed', 'failed')`,
		nullString(transferGUID), state, failureCode, formatTime(db.now()), id)
	return err
}

// RecentTransfers lists a customer's transfers, newest first, all of them
// or one account's (accountGUID not empty); quotes never confirmed are left out.
func (db *DB) RecentTransfers(ctx context.Context, customerGUID, accountGUID string, limit int) (_ []Transfer, err error) {
	defer wrap(&err, "recent transfers")
	return cached(db, fmt.Sprintf("transfers:%s:%s:%d", customerGUID, accountGUID, limit), func() ([]Transfer, error) {
		return db.recentTransfers(ctx, customerGUID, accountGUID, limit)
	})
}

func (db *DB) recentTransfers(ctx context.Context, customerGUID, accountGUID string, limit int) ([]Transfer, error) {
	if accountGUID != "" {
		return collectTransfers(db.query(ctx, `SELECT `+transferColumns+` FROM transfers
			WHERE account_guid = ? AND customer_guid = ? AND state <> 'quoted' ORDER BY id DESC LIMIT ?`, accountGUID, customerGUID, limit))
	}
	return collectTransfers(db.query(ctx, `SELECT `+transferColumns+` FROM transfers
		WHERE customer_guid = ? AND state <> 'quoted' ORDER BY id DESC LIMIT ?`, customerGUID, limit))
}

// OpenTransfers lists the transfers the platform has not finished, oldest first.
func (db *DB) OpenTransfers(ctx context.Context, limit int) (_ []Transfer, err error) {
	defer wrap(&err, "open transfers")
	return collectTransfers(db.query(ctx, `SELECT `+transferColumns+` FROM transfers
		WHERE state IN ('submitting', 'storing', 'pending', 'holding', 'reviewing', 'cancelling') ORDER BY updated_at LIMIT ?`, limit))
}
