package store

import "database/sql"

// rowScanner is what a scan function reads one row from: *sql.Row or *sql.Rows.
type rowScanner = interface{ Scan(...any) error }

// collect reads every row with scan, in order, and closes rows; it is the one
// loop over query results, so no caller forgets rows.Err or rows.Close.
func collect[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanString reads a row of one text column.
func scanString(row rowScanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}
