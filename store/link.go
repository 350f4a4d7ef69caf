package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Link session states.
const (
	LinkPending   = "pending"   // the platform is fetching the link token
	LinkReady     = "ready"     // the token is there: Link can open
	LinkFailed    = "failed"    // no token (workflow failed or timed out)
	LinkCompleted = "completed" // onSuccess was recorded
	LinkExited    = "exited"    // the customer left Link
)

// LinkSession is one run of Plaid Link for one owner.
type LinkSession struct {
	ID                   string
	UserID               int64
	CustomerGUID         string // empty: the organization's own connection
	Mode                 string // create or update
	AccountGUID          string
	WorkflowGUID         string
	State                string
	LinkToken            string
	TokenExpiresAt       *time.Time
	Message              string
	CredentialsSubmitted bool
	CreatedAt, UpdatedAt time.Time
}

const linkSessionColumns = `id, user_id, COALESCE(customer_guid, ''), mode, COALESCE(account_guid, ''), COALESCE(workflow_guid, ''),
	state, COALESCE(link_token, ''), token_expires_at, message, credentials_submitted, created_at, updated_at`

func scanLinkSession(row interface{ Scan(...any) error }) (LinkSession, error) {
	var s LinkSession
	var exp sql.NullString
	var created, updated string
	err := row.Scan(&s.ID, &s.UserID, &s.CustomerGUID, &s.Mode, &s.AccountGUID, &s.WorkflowGUID, &s.State, &s.LinkToken,
		&exp, &s.Message, &s.CredentialsSubmitted, &created, &updated)
	if err != nil {
		return LinkSession{}, notFound(err)
	}
	s.TokenExpiresAt = scanNullTime(exp)
	s.CreatedAt, s.UpdatedAt = parseTime(created), parseTime(updated)
	return s, nil
}

// CreateLinkSession records a new Link session in state pending.
func (db *DB) CreateLinkSession(ctx context.Context, s LinkSession) (err error) {
	defer wrap(&err, "create link session")
	now := formatTime(db.now())
	_, err = db.write.ExecContext(ctx, `INSERT INTO link_sessions (id, user_id, customer_guid, mode, account_guid, workflow_guid, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)`, s.ID, s.UserID, nullString(s.CustomerGUID), s.Mode, nullString(s.AccountGUID), nullString(s.WorkflowGUID), now, now)
	return err
}

// LinkSession returns a Link session by id.
func (db *DB) LinkSession(ctx context.Context, id string) (_ LinkSession, err error) {
	defer wrap(&err, "link session")
	return scanLinkSession(db.queryRow(ctx, `SELECT `+linkSessionColumns+` FROM link_sessions WHERE id = ?`, id))
}

// UserLinkSession returns a Link session only to the user who started it.
func (db *DB) UserLinkSession(ctx context.Context, userID int64, id string) (_ LinkSession, err error) {
	defer wrap(&err, "user link session")
	return scanLinkSession(db.queryRow(ctx, `SELECT `+linkSessionColumns+` FROM link_sessions WHERE id = ? AND user_id = ?`, id, userID))
}

// SetLinkWorkflow notes the platform workflow that fetches the session's token.
func (db *DB) SetLinkWorkflow(ctx context.Context, id, workflowGUID string) (err error) {
	defer wrap(&err, "set link workflow")
	return db.updateLinkSession(ctx, `workflow_guid = ?`, id, workflowGUID)
}

// SetLinkToken stores the link token: the session is ready for Link.
func (db *DB) SetLinkToken(ctx context.Context, id, token string, expires *time.Time) (err error) {
	defer wrap(&err, "set link token")
	return db.updateLinkSession(ctx, `state = 'ready', link_token = ?, token_expires_at = ?, message = ''`, id, token, nullTime(expires))
}

// FailLinkSession records why no token could be had.
func (db *DB) FailLinkSession(ctx context.Context, id, message string) (err error) {
	defer wrap(&err, "fail link session")
	return db.updateLinkSession(ctx, `state = 'failed', message = ?`, id, message)
}

// ExitLinkSession records that the person left Link, and why.
func (db *DB) ExitLinkSession(ctx context.Context, id, message string) (err error) {
	defer wrap(&err, "exit link session")
	return db.updateLinkSession(ctx, `state = CASE WHEN state = 'completed' THEN state ELSE 'exited' END, message = ?`, id, message)
}

// MarkCredentialsSubmitted notes that the person got past the bank login in
// Link: leaving an update after this can change the bank login but not the accounts.
func (db *DB) MarkCredentialsSubmitted(ctx context.Context, id string) (err error) {
	defer wrap(&err, "mark credentials submitted")
	return db.updateLinkSession(ctx, `credentials_submitted = 1`, id)
}

func (db *DB) updateLinkSession(ctx context.Context, set, id string, args ...any) error {
	args = append(args, formatTime(db.now()), id)
	res, err := db.write.ExecContext(ctx, `UPDATE link_sessions SET `+set+`, updated_at = ? WHERE id = ?`, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// LinkEvent is one Link callback as the browser reported it.
type LinkEvent struct {
	ID                 int64
	LinkSessionID      string
	AccountGUID        string
	Kind               string // event, exit, success
	EventName          string
	ViewName           string
	ErrorCode          string
	ErrorType          string
	ExitStatus         string
	InstitutionID      string
	PlaidLinkSessionID string
	RequestID          string
	At                 time.Time
}

// MaxLinkEvents bounds the callbacks kept per Link session: a real session
// reports a few dozen; a looping client must not grow the table without end.
const MaxLinkEvents = 200

// AddLinkEvent stores one Link callback, unless its session already has MaxLinkEvents.
func (db *DB) AddLinkEvent(ctx context.Context, e LinkEvent) (err error) {
	defer wrap(&err, "add link event")
	_, err = db.write.ExecContext(ctx, `INSERT INTO link_events (link_session_id, account_guid, kind, event_name, view_name, error_code,
		error_type, exit_status, institution_id, plaid_link_session_id, request_id, at)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
		WHERE (SELECT COUNT(*) FROM link_events WHERE link_session_id = ?) < ?`,
		e.LinkSessionID, nullString(e.AccountGUID), e.Kind, e.EventName, e.ViewName, e.ErrorCode, e.ErrorType, e.ExitStatus,
		e.InstitutionID, e.PlaidLinkSessionID, e.RequestID, formatTime(db.now()), e.LinkSessionID, MaxLinkEvents)
	return err
}

// PendingLinkSessions counts a user's Link sessions still waiting for their
// token that were started since a time.
func (db *DB) PendingLinkSessions(ctx context.Context, userID int64, since time.Time) (_ int, err error) {
	defer wrap(&err, "pending link sessions")
	var n int
	err = db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM link_sessions WHERE user_id = ? AND created_at >= ? AND state = 'pending'`,
		userID, formatTime(since)).Scan(&n)
	return n, err
}

const linkEventColumns = `id, link_session_id, COALESCE(account_guid, ''), kind, event_name, view_name, error_code, error_type,
	exit_status, institution_id, plaid_link_session_id, request_id, at`

func collectLinkEvents(rows *sql.Rows, err error) ([]LinkEvent, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (e LinkEvent, _ error) {
		var at string
		if err := r.Scan(&e.ID, &e.LinkSessionID, &e.AccountGUID, &e.Kind, &e.EventName, &e.ViewName, &e.ErrorCode, &e.ErrorType,
			&e.ExitStatus, &e.InstitutionID, &e.PlaidLinkSessionID, &e.RequestID, &at); err != nil {
			return e, err
		}
		e.At = parseTime(at)
		return e, nil
	})
}

// LinkEventsForSession lists a session's callbacks in order.
func (db *DB) LinkEventsForSession(ctx context.Context, sessionID string) (_ []LinkEvent, err error) {
	defer wrap(&err, "link events for session")
	return collectLinkEvents(db.query(ctx, `SELECT `+linkEventColumns+` FROM link_events WHERE link_session_id = ? ORDER BY id`, sessionID))
}

// LinkEventsForAccount lists the callbacks of every Link session about a connection.
func (db *DB) LinkEventsForAccount(ctx context.Context, accountGUID string) (_ []LinkEvent, err error) {
	defer wrap(&err, "link events for account")
	return collectLinkEvents(db.query(ctx, `SELECT `+linkEventColumns+` FROM link_events WHERE account_guid = ? ORDER BY id`, accountGUID))
}

// Completion states.
const (
	CompletionQueued = "queued"
	CompletionDone   = "done"
	CompletionFailed = "failed"
)

// Completion is the durable record of a finished Link flow.
type Completion struct {
	ID              int64
	LinkSessionID   string
	CustomerGUID    string
	Mode            string
	AccountGUID     string
	PublicToken     string
	PlaidAccountID  string
	InstitutionID   string
	InstitutionName string
	AccountName     string
	AccountMask     string
	// SelectedAccounts is the JSON list of accounts Link reported (update mode
	// with account selection: what stays shared).
	SelectedAccounts string
	// Unselected: an update whose own account was left unselected in Link.
	// It is recorded done with no platform call; the owner decides whether
	// the connection is disconnected.
	Unselected     bool
	State          string
	Attempts       int
	OutcomeUnknown bool
	NextAttemptAt  time.Time
	ExpiresAt      *time.Time
	LastError      string
	CreatedAt      time.Time
}

const completionColumns = `id, link_session_id, COALESCE(customer_guid, ''), mode, COALESCE(account_guid, ''), COALESCE(public_token, ''),
	plaid_account_id, institution_id, institution_name, account_name, account_mask, selected_accounts, state, attempts, outcome_unknown,
	next_attempt_at, expires_at, last_error, created_at, unselected`

func scanCompletion(row interface{ Scan(...any) error }) (Completion, error) {
	var c Completion
	var next, created string
	var exp sql.NullString
	err := row.Scan(&c.ID, &c.LinkSessionID, &c.CustomerGUID, &c.Mode, &c.AccountGUID, &c.PublicToken, &c.PlaidAccountID,
		&c.InstitutionID, &c.InstitutionName, &c.AccountName, &c.AccountMask, &c.SelectedAccounts, &c.State, &c.Attempts, &c.OutcomeUnknown,
		&next, &exp, &c.LastError, &created, &c.Unselected)
	if err != nil {
		return Completion{}, notFound(err)
	}
	c.NextAttemptAt, c.CreatedAt, c.ExpiresAt = parseTime(next), parseTime(created), scanNullTime(exp)
	return c, nil
}

// ErrAlreadyCompleted is returned by CreateCompletion for a Link session that
// already has one; the existing completion is returned with it.
var ErrAlreadyCompleted = errors.New("link session already completed")

// CreateCompletion durably records a completion and marks its Link session
// completed, in one transaction. A second call for the same session returns
// the first completion and ErrAlreadyCompleted: onSuccess twice creates nothing twice.
func (db *DB) CreateCompletion(ctx context.Context, c Completion) (_ Completion, err error) {
	defer wrap(&err, "create completion")
	var out Completion
	err = db.tx(ctx, func(tx *sql.Tx) error {
		existing, err := scanCompletion(tx.QueryRowContext(ctx, `SELECT `+completionColumns+` FROM completions WHERE link_session_id = ?`, c.LinkSessionID))
		if err == nil {
			out = existing
			return ErrAlreadyCompleted
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := formatTime(db.now())
		selected := c.SelectedAccounts
		if selected == "" {
			selected = "[]"
		}
		state := CompletionQueued
		if c.Unselected {
			state = CompletionDone // nothing to send to the platform
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO completions (link_session_id, customer_guid, mode, account_guid, public_token, plaid_account_id,
			institution_id, institution_name, account_name, account_mask, selected_accounts, unselected, state, next_attempt_at, expires_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.LinkSessionID, nullString(c.CustomerGUID), c.Mode, nullString(c.AccountGUID), nullString(c.PublicToken), c.PlaidAccountID,
			c.InstitutionID, c.InstitutionName, c.AccountName, c.AccountMask, selected, c.Unselected, state, now, nullTime(c.ExpiresAt), now, now).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE link_sessions SET state = 'completed', message = '', updated_at = ? WHERE id = ?`, now, c.LinkSessionID); err != nil {
			return err
		}
		out, err = scanCompletion(tx.QueryRowContext(ctx, `SELECT `+completionColumns+` FROM completions WHERE id = ?`, id))
		return err
	})
	if errors.Is(err, ErrAlreadyCompleted) {
		return out, err
	}
	return out, err
}

// CompletionForSession returns the completion of a Link session.
func (db *DB) CompletionForSession(ctx context.Context, linkSessionID string) (_ Completion, err error) {
	defer wrap(&err, "completion for session")
	return scanCompletion(db.queryRow(ctx, `SELECT `+completionColumns+` FROM completions WHERE link_session_id = ?`, linkSessionID))
}

// Completion returns one completion.
func (db *DB) Completion(ctx context.Context, id int64) (_ Completion, err error) {
	defer wrap(&err, "completion")
	return scanCompletion(db.queryRow(ctx, `SELECT `+completionColumns+` FROM completions WHERE id = ?`, id))
}

// DueCompletions lists queued completions whose next attempt is due.
func (db *DB) DueCompletions(ctx context.Context, limit int) (_ []Completion, err error) {
	defer wrap(&err, "due completions")
	return db.completions(ctx, `WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`, formatTime(db.now()), limit)
}

// QueuedCompletions lists an owner's completions still waiting for the platform.
// The answer is shared through the read cache: do not modify it.
func (db *DB) QueuedCompletions(ctx context.Context, customerGUID string) (_ []Completion, err error) {
	defer wrap(&err, "queued completions")
	return cached(db, "queued:"+customerGUID, func() ([]Completion, error) {
		if customerGUID == "" {
			return db.completions(ctx, `WHERE state = 'queued' AND customer_guid IS NULL ORDER BY id`)
		}
		return db.completions(ctx, `WHERE state = 'queued' AND customer_guid = ? ORDER BY id`, customerGUID)
	})
}

func (db *DB) completions(ctx context.Context, where string, args ...any) ([]Completion, error) {
	rows, err := db.query(ctx, `SELECT `+completionColumns+` FROM completions `+where, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanCompletion)
}

// ClaimCompletion counts an attempt and pushes the next one to retryAt before
// the platform is called, so a crash mid-call retries later instead of never,
// and two workers do not call at once. It reports false when the completion is
// not queued or not due any more.
func (db *DB) ClaimCompletion(ctx context.Context, id int64, retryAt time.Time, outcomeUnknown bool) (_ bool, err error) {
	defer wrap(&err, "claim completion")
	res, err := db.write.ExecContext(ctx, `UPDATE completions SET attempts = attempts + 1, next_attempt_at = ?,
		outcome_unknown = CASE WHEN ? = 1 THEN 1 ELSE outcome_unknown END, updated_at = ? WHERE id = ? AND state = 'queued' AND next_attempt_at <= ?`,
		formatTime(retryAt), outcomeUnknown, formatTime(db.now()), id, formatTime(db.now()))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RetryCompletion records a failed attempt and when to try again.
func (db *DB) RetryCompletion(ctx context.Context, id int64, next time.Time, errText string) (err error) {
	defer wrap(&err, "retry completion")
	_, err = db.write.ExecContext(ctx, `UPDATE completions SET next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = 'queued'`,
		formatTime(next), errText, formatTime(db.now()), id)
	return err
}

// FinishCompletion marks a completion done and saves the account the platform
// answered with, in one transaction; the public token is erased.
func (db *DB) FinishCompletion(ctx context.Context, id int64, a Account) (_ []Transition, err error) {
	defer wrap(&err, "finish completion")
	var changes []Transition
	err = db.tx(ctx, func(tx *sql.Tx) error {
		now := formatTime(db.now())
		if _, err := tx.ExecContext(ctx, `UPDATE completions SET state = 'done', account_guid = ?, public_token = NULL, last_error = '',
			outcome_unknown = 0, updated_at = ? WHERE id = ?`, a.GUID, now, id); err != nil {
			return err
		}
		var err error
		changes, _, err = db.upsertAccounts(ctx, tx, []Account{a}, "link")
		return err
	})
	return changes, err
}

// FailCompletion gives up on a completion (e.g. its public token expired); the public token is erased.
func (db *DB) FailCompletion(ctx context.Context, id int64, errText string) (err error) {
	defer wrap(&err, "fail completion")
	_, err = db.write.ExecContext(ctx, `UPDATE completions SET state = 'failed', public_token = NULL, last_error = ?, updated_at = ? WHERE id = ?`,
		errText, formatTime(db.now()), id)
	return err
}

// OwnerAccounts lists the live connections of an owner (a customer, or the
// organization itself when customerGUID is empty), for duplicate checks.
func (db *DB) OwnerAccounts(ctx context.Context, customerGUID string) (_ []Account, err error) {
	defer wrap(&err, "owner accounts")
	var rows *sql.Rows
	if customerGUID == "" {
		rows, err = db.query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE customer_guid IS NULL AND state NOT IN ('deleted', 'deleting', 'failed')`)
	} else {
		rows, err = db.query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE customer_guid = ? AND state NOT IN ('deleted', 'deleting', 'failed')`, customerGUID)
	}
	if err != nil {
		return nil, err
	}
	return collectAccounts(rows)
}
