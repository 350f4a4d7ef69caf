package store

import (
	"context"
	"sort"
)

// Institution is a bank the connections are held at, named as the
// connections (or Plaid's institution lookup) named it; Name is empty until
// a name is known.
type Institution struct{ ID, Name string }

// institutionsQuery yields each distinct institution id with a name some
// connection there has (empty if none). Rather than reading every account, it
// skips through the (institution_id, institution_name) index one institution
// at a time: a few seeks per institution however many connections it holds.
const institutionsQuery = `WITH RECURSIVE ids(id) AS (
		SELECT MIN(institution_id) FROM accounts WHERE institution_id > ''
		UNION ALL
		SELECT (SELECT MIN(institution_id) FROM accounts WHERE institution_id > ids.id) FROM ids WHERE ids.id IS NOT NULL
	), named(id, name) AS (
		SELECT id, COALESCE((SELECT MAX(institution_name) FROM accounts WHERE institution_id = ids.id), '') FROM ids WHERE id IS NOT NULL
	)`

// Institutions lists the distinct institutions of every connection in the
// store, by name (unnamed ones last, by id).
func (db *DB) Institutions(ctx context.Context) (_ []Institution, err error) {
	defer wrap(&err, "institutions")
	return cached(db, "institutions", func() ([]Institution, error) {
		rows, err := db.query(ctx, institutionsQuery+` SELECT id, name FROM named`)
		if err != nil {
			return nil, err
		}
		out, err := collect(rows, scanInstitution)
		if err != nil {
			return nil, err
		}
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i], out[j]
			if (a.Name == "") != (b.Name == "") {
				return b.Name == ""
			}
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			return a.ID < b.ID
		})
		return out, nil
	})
}

// UnnamedInstitutions lists the institutions some connection has no name
// for, each with the name another connection at it has, if any.
func (db *DB) UnnamedInstitutions(ctx context.Context) (_ []Institution, err error) {
	defer wrap(&err, "unnamed institutions")
	rows, err := db.query(ctx, institutionsQuery+` SELECT id, name FROM named
		WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.institution_id = named.id AND a.institution_name = '') ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanInstitution)
}

func scanInstitution(row rowScanner) (in Institution, err error) {
	err = row.Scan(&in.ID, &in.Name)
	return in, err
}

// NameInstitution gives every connection at the institution that has no
// name yet this one; names already known are kept.
func (db *DB) NameInstitution(ctx context.Context, institutionID, name string) (err error) {
	defer wrap(&err, "name institution")
	_, err = db.write.ExecContext(ctx, `UPDATE accounts SET institution_name = ? WHERE institution_id = ? AND institution_name = ''`, name, institutionID)
	return err
}
