package store

import (
	"context"
	"database/sql"
	"time"
)

// Roles of a portal user.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// User is a person who signs in to the portal.
type User struct {
	ID                int64
	Email             string
	PasswordHash      string
	Role              string
	CustomerGUID      string // empty for admins
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	Disabled          bool // cannot sign in
}

// IsAdmin reports whether the user operates the bank's portal.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

const userColumns = `id, email, password_hash, role, COALESCE(customer_guid, ''), created_at, password_changed_at, disabled_at IS NOT NULL`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created, changed string
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.CustomerGUID, &created, &changed, &u.Disabled); err != nil {
		return User{}, notFound(err)
	}
	u.CreatedAt, u.PasswordChangedAt = parseTime(created), parseTime(changed)
	return u, nil
}

// CreateUser inserts a user; an email already taken gives ErrConflict.
func (db *DB) CreateUser(ctx context.Context, u User) (_ User, err error) {
	defer wrap(&err, "create user")
	now := db.now()
	u.ID, err = db.write.insertID(ctx,
		`INSERT INTO users (email, password_hash, role, customer_guid, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Email, u.PasswordHash, u.Role, nullString(u.CustomerGUID), formatTime(now), formatTime(now))
	if isUniqueViolation(err) {
		return User{}, ErrConflict
	}
	if err != nil {
		return User{}, err
	}
	u.CreatedAt, u.PasswordChangedAt = now, now
	return u, nil
}

// UserByEmail finds a user by email, case-insensitively.
func (db *DB) UserByEmail(ctx context.Context, email string) (_ User, err error) {
	defer wrap(&err, "user by email")
	// SQLite's email column compares regardless of case (COLLATE NOCASE);
	// PostgreSQL's unique index is on lower(email), which this matches.
	if db.postgres {
		return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower(?)`, email))
	}
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

// UserByID finds a user by id.
func (db *DB) UserByID(ctx context.Context, id int64) (_ User, err error) {
	defer wrap(&err, "user by ID")
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// UserByCustomerGUID finds the customer user tied to a platform customer.
func (db *DB) UserByCustomerGUID(ctx context.Context, guid string) (_ User, err error) {
	defer wrap(&err, "user by customer GUID")
	return scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE customer_guid = ?`, guid))
}

// CountUsers tells whether the database has been seeded.
func (db *DB) CountUsers(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "count users")
	var n int
	err = db.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// SetPassword replaces a user's password hash and revokes every session of that user.
func (db *DB) SetPassword(ctx context.Context, userID int64, hash string) (err error) {
	defer wrap(&err, "set password")
	return db.tx(ctx, func(tx *sql.Tx) error {
		now := formatTime(db.now())
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?`, hash, now, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		return err
	})
}

// SetDisabled disables a user, revoking every session of the user in the
// same transaction, or enables the user again.
func (db *DB) SetDisabled(ctx context.Context, userID int64, disabled bool) (err error) {
	defer wrap(&err, "set disabled")
	return db.tx(ctx, func(tx *sql.Tx) error {
		now := formatTime(db.now())
		var res sql.Result
		var err error
		if disabled {
			res, err = tx.ExecContext(ctx, `UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?`, now, userID)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL WHERE id = ?`, userID)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if !disabled {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, now, userID)
		return err
	})
}

// RevokeUserSessions signs a user out everywhere and reports how many sessions ended.
func (db *DB) RevokeUserSessions(ctx context.Context, userID int64) (_ int64, err error) {
	defer wrap(&err, "revoke user sessions")
	res, err := db.write.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?`,
		formatTime(db.now()), userID, formatTime(db.now()))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
