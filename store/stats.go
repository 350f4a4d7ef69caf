package store

import (
	"context"
	"database/sql"
)

// QueueStats are the sizes of the portal's durable queues, for monitoring.
type QueueStats struct {
	// Completions counts the completions by state (queued, done, failed).
	Completions map[string]int
	// CompletionsRetried counts the completions that took more than one attempt.
	CompletionsRetried int
	// Outbox counts the outbox's emails by state (queued, sent, failed).
	Outbox map[string]int
}

// QueueStats counts the completions and the outbox by state: two small
// grouped queries, read at each scrape instead of counters kept in memory, so
// the figures are the database's whoever did the work.
func (db *DB) QueueStats(ctx context.Context) (QueueStats, error) {
	s := QueueStats{Completions: map[string]int{}, Outbox: map[string]int{}}
	rows, err := db.query(ctx, `SELECT state, COUNT(*), COALESCE(SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END), 0) FROM completions GROUP BY state`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n, retried int
		if err := rows.Scan(&state, &n, &retried); err != nil {
			return s, err
		}
		s.Completions[state] = n
		s.CompletionsRetried += retried
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	rows, err = db.query(ctx, `SELECT state, COUNT(*) FROM outbox GROUP BY state`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return s, err
		}
		s.Outbox[state] = n
	}
	return s, rows.Err()
}

// PoolStats are the connection pools' figures by pool: "read" (the readers)
// and "write" (the one writer connection).
func (db *DB) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"read": db.read.Stats(), "write": db.write.Stats()}
}
