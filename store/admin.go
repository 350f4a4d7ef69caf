package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// AdminFilter narrows the admin tab's list of connections. Empty fields do not filter.
type AdminFilter struct {
	State         string
	InstitutionID string
	CustomerGUID  string
	BankLevel     bool // only the organization's own connections (no customer)
}

// Cursor is a position in the admin list, ordered by (state_changed_at DESC, guid DESC):
// the next page starts strictly after it, so rows inserted meanwhile never shift a page.
type Cursor struct {
	ChangedAt time.Time
	GUID      string
}

// ErrBadCursor is returned by ParseCursor for anything it did not make.
var ErrBadCursor = errors.New("bad cursor")

const cursorVersion = "c1"

// String encodes the cursor as an opaque, URL-safe token.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + "|" + formatTime(c.ChangedAt) + "|" + c.GUID))
}

// ParseCursor decodes and validates a token made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	if s == "" || len(s) > 128 {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != cursorVersion || !ValidGUID(parts[2]) {
		return Cursor{}, ErrBadCursor
	}
	t, err := time.Parse(timeLayout, parts[1])
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{ChangedAt: t, GUID: parts[2]}, nil
}

// ValidGUID tells whether s has the platform's guid shape: 32 lowercase hex
// characters. Ids that fail it are refused before any query or platform call.
func ValidGUID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f') {
			return false
		}
	}
	return true
}

// adminQuery builds the page query. Each filter is an equality on the leading
// columns of one index whose tail is (state_changed_at DESC, guid DESC), so
// SQLite walks that index from the cursor and stops after limit rows.
func adminQuery(f AdminFilter, after *Cursor, limit int) (string, []any) {
	var where []string
	var args []any
	if f.BankLevel {
		where = append(where, "customer_guid IS NULL")
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, f.State)
	}
	if f.InstitutionID != "" {
		where = append(where, "institution_id = ?")
		args = append(args, f.InstitutionID)
	}
	if f.CustomerGUID != "" {
		where = append(where, "customer_guid = ?")
		args = append(args, f.CustomerGUID)
	}
	if after != nil {
		where = append(where, "(state_changed_at, guid) < (?, ?)")
		args = append(args, formatTime(after.ChangedAt), after.GUID)
	}
	q := `SELECT ` + accountColumns + ` FROM accounts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY state_changed_at DESC, guid DESC LIMIT ?`
	args = append(args, limit)
	return q, args
}

// AdminPage returns up to limit connections after the cursor (nil: the first
// page), newest state change first, and the cursor of the next page (nil at the end).
func (db *DB) AdminPage(ctx context.Context, f AdminFilter, after *Cursor, limit int) (_ []Account, _ *Cursor, err error) {
	defer wrap(&err, "admin page")
	if limit <= 0 {
		limit = 50
	}
	if f.BankLevel && f.CustomerGUID != "" {
		return nil, nil, nil // a bank-level connection has no customer
	}
	q, args := adminQuery(f, after, limit+1)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	out, err := collectAccounts(rows)
	if err != nil {
		return nil, nil, err
	}
	var next *Cursor
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = &Cursor{ChangedAt: last.StateChangedAt, GUID: last.GUID}
	}
	return out, next, nil
}

// explainAdminPage returns SQLite's plan of the page query (tests).
func (db *DB) explainAdminPage(ctx context.Context, f AdminFilter, after *Cursor) ([]string, error) {
	q, args := adminQuery(f, after, 51)
	rows, err := db.query(ctx, `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (detail string, _ error) {
		var id, parent, unused int
		if err := r.Scan(&id, &parent, &unused, &detail); err != nil {
			return detail, err
		}
		return detail, nil
	})
}

// AdminEmails lists the email addresses of every admin.
func (db *DB) AdminEmails(ctx context.Context) (_ []string, err error) {
	defer wrap(&err, "admin emails")
	rows, err := db.query(ctx, `SELECT email FROM users WHERE role = 'admin' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanString)
}

// AccountNotifications lists the in-app notifications raised about a connection, oldest first.
func (db *DB) AccountNotifications(ctx context.Context, accountGUID string) (_ []Notification, err error) {
	defer wrap(&err, "account notifications")
	rows, err := db.query(ctx, `SELECT id, customer_guid, COALESCE(account_guid, ''), kind, message, created_at
		FROM notifications WHERE account_guid = ? ORDER BY id LIMIT 500`, accountGUID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (n Notification, _ error) {
		var at string
		if err := r.Scan(&n.ID, &n.CustomerGUID, &n.AccountGUID, &n.Kind, &n.Message, &at); err != nil {
			return n, err
		}
		n.CreatedAt = parseTime(at)
		return n, nil
	})
}

// RefreshJob is one on-demand refresh of a connection.
type RefreshJob struct {
	ID          int64
	AccountGUID string
	RequestedBy int64
	State       string // running, succeeded, failed
	Message     string
	CreatedAt   time.Time
	FinishedAt  *time.Time
}

// Refresh job states.
const (
	RefreshRunning   = "running"
	RefreshSucceeded = "succeeded"
	RefreshFailed    = "failed"
)

// CreateRefreshJob records a running refresh held by holder (an instance)
// until leaseUntil; a connection with one already running gives ErrConflict.
func (db *DB) CreateRefreshJob(ctx context.Context, accountGUID string, userID int64, holder string, leaseUntil time.Time) (_ RefreshJob, err error) {
	defer wrap(&err, "create refresh job")
	now := db.now()
	var by any
	if userID != 0 {
		by = userID
	}
	id, err := db.write.insertID(ctx, `INSERT INTO refresh_jobs (account_guid, requested_by, state, created_at, holder, lease_until) VALUES (?, ?, 'running', ?, ?, ?) RETURNING id`,
		accountGUID, by, formatTime(now), holder, formatTime(leaseUntil))
	if isUniqueViolation(err) {
		return RefreshJob{}, ErrConflict
	}
	if err != nil {
		return RefreshJob{}, err
	}
	return RefreshJob{ID: id, AccountGUID: accountGUID, RequestedBy: userID, State: RefreshRunning, CreatedAt: now}, nil
}

// FinishRefreshJob records a refresh's outcome.
func (db *DB) FinishRefreshJob(ctx context.Context, id int64, state, message string) (err error) {
	defer wrap(&err, "finish refresh job")
	_, err = db.write.ExecContext(ctx, `UPDATE refresh_jobs SET state = ?, message = ?, finished_at = ? WHERE id = ? AND state = 'running'`,
		state, message, formatTime(db.now()), id)
	return err
}

// FailInterruptedRefreshJobs ends jobs left running by a stopped instance:
// those whose lease ran out (a live instance renews its own), and reports how many.
func (db *DB) FailInterruptedRefreshJobs(ctx context.Context, message string) (_ int64, err error) {
	defer wrap(&err, "fail interrupted refresh jobs")
	now := formatTime(db.now())
	res, err := db.write.ExecContext(ctx, `UPDATE refresh_jobs SET state = 'failed', message = ?, finished_at = ?
		WHERE state = 'running' AND (lease_until IS NULL OR lease_until < ?)`, message, now, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// LatestRefreshJob returns a connection's most recent refresh, ErrNotFound when none.
func (db *DB) LatestRefreshJob(ctx context.Context, accountGUID string) (_ RefreshJob, err error) {
	defer wrap(&err, "latest refresh job")
	var j RefreshJob
	var created string
	var finished sql.NullString
	var by sql.NullInt64
	err = db.queryRow(ctx, `SELECT id, account_guid, requested_by, state, message, created_at, finished_at
		FROM refresh_jobs WHERE account_guid = ? ORDER BY id DESC LIMIT 1`, accountGUID).
		Scan(&j.ID, &j.AccountGUID, &by, &j.State, &j.Message, &created, &finished)
	if err != nil {
		return RefreshJob{}, notFound(err)
	}
	j.RequestedBy = by.Int64
	j.CreatedAt, j.FinishedAt = parseTime(created), scanNullTime(finished)
	return j, nil
}

// CustomerEmails maps customer guids to their users' email addresses (for a page of rows).
func (db *DB) CustomerEmails(ctx context.Context, guids []string) (_ map[string]string, err error) {
	defer wrap(&err, "customer emails")
	out := map[string]string{}
	if len(guids) == 0 {
		return out, nil
	}
	args := make([]any, len(guids))
	for i, g := range guids {
		args[i] = g
	}
	rows, err := db.query(ctx, `SELECT customer_guid, email FROM users WHERE customer_guid IN (`+placeholders(len(guids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g, e string
		if err := rows.Scan(&g, &e); err != nil {
			return nil, err
		}
		out[g] = e
	}
	return out, rows.Err()
}
