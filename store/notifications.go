package store

import (
	"context"
	"database/sql"
	"time"
)

// Notification is an in-app message (banner) for a customer.
type Notification struct {
	ID           int64
	CustomerGUID string
	AccountGUID  string
	Kind         string
	Message      string
	// ReasonState is the state of the connection the banner is about: it is
	// shown only while the connection is in it, and dismissed when it leaves
	// it. Empty: shown until the customer dismisses it.
	ReasonState string
	CreatedAt   time.Time
}

// AddNotification queues a banner for a customer.
func (db *DB) AddNotification(ctx context.Context, n Notification) (_ int64, err error) {
	defer wrap(&err, "add notification")
	return db.write.insertID(ctx, `INSERT INTO notifications (customer_guid, account_guid, kind, message, reason_state, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		n.CustomerGUID, nullString(n.AccountGUID), n.Kind, n.Message, nullString(n.ReasonState), formatTime(db.now()))
}

// ActiveNotifications lists a customer's banners that were not dismissed and
// whose reason still holds (their connection is in the banner's reason state), newest first.
func (db *DB) ActiveNotifications(ctx context.Context, customerGUID string) (_ []Notification, err error) {
	defer wrap(&err, "active notifications")
	return cached(db, "notifications:"+customerGUID, func() ([]Notification, error) { return db.activeNotifications(ctx, customerGUID) })
}

func (db *DB) activeNotifications(ctx context.Context, customerGUID string) ([]Notification, error) {
	rows, err := db.query(ctx, `SELECT n.id, n.customer_guid, COALESCE(n.account_guid, ''), n.kind, n.message, COALESCE(n.reason_state, ''), n.created_at
		FROM notifications n WHERE n.customer_guid = ? AND n.dismissed_at IS NULL
			AND (n.reason_state IS NULL OR EXISTS (SELECT 1 FROM accounts a WHERE a.guid = n.account_guid AND a.state = n.reason_state))
		ORDER BY n.id DESC LIMIT 20`, customerGUID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (n Notification, _ error) {
		var at string
		if err := r.Scan(&n.ID, &n.CustomerGUID, &n.AccountGUID, &n.Kind, &n.Message, &n.ReasonState, &at); err != nil {
			return n, err
		}
		n.CreatedAt = parseTime(at)
		return n, nil
	})
}

// DismissNotification hides a banner; only its own customer can dismiss it.
func (db *DB) DismissNotification(ctx context.Context, customerGUID string, id int64) (err error) {
	defer wrap(&err, "dismiss notification")
	res, err := db.write.ExecContext(ctx, `UPDATE notifications SET dismissed_at = ? WHERE id = ? AND customer_guid = ? AND dismissed_at IS NULL`,
		formatTime(db.now()), id, customerGUID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// JobStatus is the health of a background job.
type JobStatus struct {
	Name      string
	LastOKAt  *time.Time
	LastTryAt *time.Time
	LastError string
}

// RecordJob notes a run of a background job; err == "" means it succeeded.
func (db *DB) RecordJob(ctx context.Context, name, errText string) (err error) {
	defer wrap(&err, "record job")
	now := formatTime(db.now())
	var ok any
	if errText == "" {
		ok = now
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO job_status (name, last_ok_at, last_try_at, last_error) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET last_ok_at = COALESCE(excluded.last_ok_at, job_status.last_ok_at),
			last_try_at = excluded.last_try_at, last_error = excluded.last_error`, name, ok, now, errText)
	return err
}

// Job returns a job's health; a job that never ran has zero times.
func (db *DB) Job(ctx context.Context, name string) (_ JobStatus, err error) {
	defer wrap(&err, "job")
	return cached(db, "job:"+name, func() (JobStatus, error) { return db.job(ctx, name) })
}

func (db *DB) job(ctx context.Context, name string) (JobStatus, error) {
	j := JobStatus{Name: name}
	var ok, try sql.NullString
	err := db.queryRow(ctx, `SELECT last_ok_at, last_try_at, last_error FROM job_status WHERE name = ?`, name).Scan(&ok, &try, &j.LastError)
	if err != nil {
		if notFound(err) == ErrNotFound {
			return j, nil
		}
		return j, err
	}
	j.LastOKAt, j.LastTryAt = scanNullTime(ok), scanNullTime(try)
	return j, nil
}

// DismissAccountNotifications hides a connection's banners of one kind, e.g.
// "reconnect" banners once the connection works again.
func (db *DB) DismissAccountNotifications(ctx context.Context, accountGUID, kind string) (err error) {
	defer wrap(&err, "dismiss account notifications")
	_, err = db.write.ExecContext(ctx, `UPDATE notifications SET dismissed_at = ? WHERE account_guid = ? AND kind = ? AND dismissed_at IS NULL`,
		formatTime(db.now()), accountGUID, kind)
	return err
}

// dismissOutdated dismisses a connection's banners whose reason no longer
// holds now that it is in state; it runs in the transaction that records the
// change, whoever made it (sync, Link, admin, platform).
func dismissOutdated(ctx context.Context, tx *sql.Tx, accountGUID, state, now string) error {
	_, err := tx.ExecContext(ctx, `UPDATE notifications SET dismissed_at = ?
		WHERE account_guid = ? AND dismissed_at IS NULL AND reason_state IS NOT NULL AND reason_state <> ?`, now, accountGUID, state)
	return err
}

// dismissOutdatedMany is dismissOutdated for each change (no account twice),
// one statement per new state rather than one per account.
func dismissOutdatedMany(ctx context.Context, tx *sql.Tx, changes []Transition, now string) error {
	const chunk = 500 // well under either engine's limit of bound values
	byState := map[string][]any{}
	var states []string
	for _, c := range changes {
		if _, ok := byState[c.To]; !ok {
			states = append(states, c.To)
		}
		byState[c.To] = append(byState[c.To], c.AccountGUID)
	}
	for _, state := range states {
		guids := byState[state]
		for start := 0; start < len(guids); start += chunk {
			part := guids[start:min(start+chunk, len(guids))]
			args := append([]any{now, state}, part...)
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET dismissed_at = ?
				WHERE dismissed_at IS NULL AND reason_state IS NOT NULL AND reason_state <> ?
					AND account_guid IN (`+placeholders(len(part))+`)`, args...); err != nil {
				return err
			}
		}
	}
	return nil
}
