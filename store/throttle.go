package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"time"
)

// Failed sign-ins are counted in the database, so that every portal instance
// sharing it sees the same counts: guesses spread over several instances
// behind a load balancer are slowed as if there were one.

// Login failure scopes: what a count is kept per.
const (
	FailurePair  = "pair"  // one email from one address
	FailureAddr  = "addr"  // one address, any email
	FailureEmail = "email" // one email, any address
)

// FailureKey names one count: a scope and what it counts (an email, an
// address, or both joined). Only a hash of it is stored.
type FailureKey struct {
	Scope string
	Key   string
}

func (k FailureKey) stored() string {
	sum := sha256.Sum256([]byte(k.Scope + "\x00" + k.Key))
	return hex.EncodeToString(sum[:16])
}

// LoginFailures counts, for each key, the failures recorded after since.
func (db *DB) LoginFailures(ctx context.Context, since time.Time, keys ...FailureKey) (_ []int, err error) {
	defer wrap(&err, "login failures")
	out := make([]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	q := `SELECT scope, key, COUNT(*) FROM login_failures WHERE at > ? AND (`
	args := []any{formatTime(since)}
	for i, k := range keys {
		if i > 0 {
			q += ` OR `
		}
		q += `(scope = ? AND key = ?)`
		args = append(args, k.Scope, k.stored())
	}
	rows, err := db.read.QueryContext(ctx, q+`) GROUP BY scope, key`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var scope, key string
		var n int
		if err := rows.Scan(&scope, &key, &n); err != nil {
			return nil, err
		}
		for i, k := range keys {
			if k.Scope == scope && k.stored() == key {
				out[i] = n
			}
		}
	}
	return out, rows.Err()
}

// AddLoginFailures records one failure at a time for each key, and forgets
// every failure recorded before forgetBefore (older than any window counted).
func (db *DB) AddLoginFailures(ctx context.Context, at, forgetBefore time.Time, keys ...FailureKey) (err error) {
	defer wrap(&err, "add login failures")
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE at < ?`, formatTime(forgetBefore)); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (scope, key, at) VALUES (?, ?, ?)`,
				k.Scope, k.stored(), formatTime(at)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClearLoginFailures forgets the failures of one key.
func (db *DB) ClearLoginFailures(ctx context.Context, k FailureKey) (err error) {
	defer wrap(&err, "clear login failures")
	_, err = db.write.ExecContext(ctx, `DELETE FROM login_failures WHERE scope = ? AND key = ?`, k.Scope, k.stored())
	return err
}
