package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"time"

	"github.com/bankconnections/portal/rules"
)

// The seven states of an external bank account, as the platform names them
// (their one home is rules, which imports nothing of the portal).
const (
	StateStoring         = rules.Storing
	StateCompleted       = rules.Completed
	StateUnverified      = rules.Unverified
	StateFailed          = rules.Failed
	StateRefreshRequired = rules.RefreshRequired
	StateDeleting        = rules.Deleting
	StateDeleted         = rules.Deleted
)

// States lists every state in the order the portal presents them.
var States = rules.States

// Account is the local copy of one external bank account (a connection).
type Account struct {
	GUID             string
	BankGUID         string
	CustomerGUID     string // empty for the organization's own (bank-level) connections
	Name             string
	Asset            string
	AccountKind      string
	Environment      string
	InstitutionID    string
	InstitutionName  string
	AccountMask      string
	AccountName      string
	State            string
	FailureCode      string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	BalanceUpdatedAt *time.Time
	BalanceAvailable *int64
	BalanceCurrent   *int64
	StateChangedAt   time.Time
	SyncedAt         time.Time
	// DisconnectedBy is who first saw the connection go (the source of its
	// first change into deleting or deleted: admin, customer, sync, ...);
	// filled by the customer's reads only.
	DisconnectedBy string
}

// customerAccountColumns adds who disconnected a connection to accountColumns.
const customerAccountColumns = accountColumns + `, COALESCE((SELECT sc.source FROM state_changes sc
	WHERE sc.account_guid = accounts.guid AND sc.to_state IN ('deleting', 'deleted') ORDER BY sc.id LIMIT 1), '')`

func scanCustomerAccount(row interface{ Scan(...any) error }) (Account, error) {
	var by string
	a, err := scanAccount(row, &by)
	a.DisconnectedBy = by
	return a, err
}

const accountColumns = `guid, bank_guid, COALESCE(customer_guid, ''), name, asset, account_kind, environment,
	institution_id, institution_name, account_mask, COALESCE(account_name, ''), state, COALESCE(failure_code, ''),
	created_at, updated_at, balance_updated_at, balance_available, balance_current, state_changed_at, synced_at`

func scanAccount(row interface{ Scan(...any) error }, extra ...any) (Account, error) {
	var a Account
	var created, updated, changed, synced string
	var balAt sql.NullString
	var avail, cur sql.NullInt64
	dest := append([]any{&a.GUID, &a.BankGUID, &a.CustomerGUID, &a.Name, &a.Asset, &a.AccountKind, &a.Environment,
		&a.InstitutionID, &a.InstitutionName, &a.AccountMask, &a.AccountName, &a.State, &a.FailureCode,
		&created, &updated, &balAt, &avail, &cur, &changed, &synced}, extra...)
	err := row.Scan(dest...)
	if err != nil {
		return Account{}, notFound(err)
	}
	a.CreatedAt, a.UpdatedAt, a.StateChangedAt, a.SyncedAt = parseTime(created), parseTime(updated), parseTime(changed), parseTime(synced)
	a.BalanceUpdatedAt = scanNullTime(balAt)
	if avail.Valid {
		a.BalanceAvailable = &avail.Int64
	}
	if cur.Valid {
		a.BalanceCurrent = &cur.Int64
	}
	return a, nil
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// Transition is a state change observed while saving an account.
type Transition struct {
	AccountGUID  string
	CustomerGUID string
	From, To     string
}

// UpsertAccounts saves accounts as the platform reports them, in one transaction,
// never replacing a copy with an older one (by the platform's updated_at),
// recording every state change (source says who observed it: "sync", "link", "admin")
// and returning the transitions. Institution names already known locally are kept
// when the platform does not carry one.
func (db *DB) UpsertAccounts(ctx context.Context, accounts []Account, source string) (_ []Transition, err error) {
	defer wrap(&err, "upsert accounts")
	var changes []Transition
	var inserted int
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		changes, inserted, err = db.upsertAccounts(ctx, tx, accounts, source)
		return err
	})
	if err == nil {
		db.analyzeAfterGrowth(ctx, inserted)
	}
	return changes, err
}

// accountsGrowth is how much the accounts table grew through this process
// since PostgreSQL last analyzed it at this process's request.
type accountsGrowth struct {
	mu               sync.Mutex
	inserted, atLast int64
}

// minAnalyzeGrowth is the fewest new accounts worth analyzing the table for.
const minAnalyzeGrowth = 1000

// analyzeAfterGrowth has PostgreSQL analyze the accounts table once it has
// grown by inserted rows to twice its size at the last analysis (its
// estimate at start, then each analysis this process asked for), and by at
// least minAnalyzeGrowth. A bank's first sync fills an empty table in
// seconds, long before autovacuum's next look: its prepared statements keep
// plans made for an empty table, and the page lookups scan the whole table,
// so 100,000 accounts took 10–23 s instead of about 10. A few analyses as
// the table doubles (each reading a sample, tens of milliseconds) keep the
// plans on the indexes. SQLite plans these lookups on the primary key
// whatever the table's size.
func (db *DB) analyzeAfterGrowth(ctx context.Context, inserted int) {
	if !db.postgres || inserted == 0 {
		return
	}
	g := &db.growth
	g.mu.Lock()
	g.inserted += int64(inserted)
	due := g.inserted >= max(minAnalyzeGrowth, g.atLast)
	if due {
		g.atLast += g.inserted
		g.inserted = 0
	}
	g.mu.Unlock()
	if due {
		// Not a change of data: the write pool itself, not the counting writer.
		// A failure (a role that may not analyze) only leaves the plans to autovacuum.
		db.write.DB.ExecContext(ctx, `ANALYZE accounts`)
	}
}

// upsertAccounts saves accounts in tx; it also says how many were new.
func (db *DB) upsertAccounts(ctx context.Context, tx *sql.Tx, accounts []Account, source string) ([]Transition, int, error) {
	var changes []Transition
	now := formatTime(db.now())
	// The states held now, read for the whole page at once: one round trip
	// instead of one per account (which PostgreSQL's network latency makes dear).
	olds, err := accountStates(ctx, tx, accounts)
	if err != nil {
		return nil, 0, err
	}
	inserted := 0
	for _, a := range accounts {
		if _, held := olds[a.GUID]; !held {
			olds[a.GUID] = "" // counted once; "" is no state, as for a new account
			inserted++
		}
	}
	for len(accounts) > 0 {
		// Many accounts per statement (a round trip each would make a
		// PostgreSQL sync page slow), as long as no account comes twice: one
		// statement may not upsert a row twice.
		n, seen := 0, map[string]bool{}
		for n < len(accounts) && n < upsertChunk && !seen[accounts[n].GUID] {
			seen[accounts[n].GUID] = true
			n++
		}
		part := accounts[:n]
		accounts = accounts[n:]
		saved, err := putAccounts(ctx, tx, part, now)
		if err != nil {
			return nil, 0, err
		}
		var moved []Transition
		for _, a := range part {
			// An older copy than the one we hold (a sync page read before a
			// reconnect finished) changes nothing.
			if !saved[a.GUID] {
				continue
			}
			old := olds[a.GUID]
			olds[a.GUID] = a.State // the same account later in the list changes from this
			if old != a.State {
				moved = append(moved, Transition{AccountGUID: a.GUID, CustomerGUID: a.CustomerGUID, From: old, To: a.State})
			}
		}
		// The chunk's changes are logged, and the banners they make outdated
		// dismissed, a few statements at a time rather than two per account:
		// a first sync changes every account, and on PostgreSQL each
		// statement is a round trip. No account comes twice in a chunk, so
		// this is the same as doing it account by account.
		if err := logStateChanges(ctx, tx, moved, source, now); err != nil {
			return nil, 0, err
		}
		if err := dismissOutdatedMany(ctx, tx, moved, now); err != nil {
			return nil, 0, err
		}
		changes = append(changes, moved...)
	}
	return changes, inserted, nil
}

// logStateChanges records changes in state_changes, in their order, a
// chunk of rows per statement.
func logStateChanges(ctx context.Context, tx *sql.Tx, changes []Transition, source, now string) error {
	const chunk = 200 // 5 values each: well under either engine's limit of bound values
	for start := 0; start < len(changes); start += chunk {
		part := changes[start:min(start+chunk, len(changes))]
		args := make([]any, 0, 5*len(part))
		for _, c := range part {
			args = append(args, c.AccountGUID, c.From, c.To, source, now)
		}
		const row = `(?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, `INSERT INTO state_changes (account_guid, from_state, to_state, source, at) VALUES `+
			strings.Repeat(row+", ", len(part)-1)+row, args...); err != nil {
			return err
		}
	}
	return nil
}

// upsertChunk bounds the accounts of one statement: 20 values each stay well
// under either engine's limit of bound values.
const upsertChunk = 500

// putAccounts saves accounts (no guid twice) in one statement, never
// replacing a copy with an older one, and returns the guids it saved.
func putAccounts(ctx context.Context, tx *sql.Tx, accounts []Account, now string) (map[string]bool, error) {
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := make([]any, 0, 20*len(accounts))
	for _, a := range accounts {
		args = append(args, a.GUID, a.BankGUID, nullString(a.CustomerGUID), a.Name, a.Asset, a.AccountKind, a.Environment,
			a.InstitutionID, a.InstitutionName, a.AccountMask, nullString(a.AccountName), a.State, nullString(a.FailureCode),
			formatTime(a.CreatedAt), formatTime(a.UpdatedAt), nullTime(a.BalanceUpdatedAt), nullInt(a.BalanceAvailable), nullInt(a.BalanceCurrent),
			now, now)
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO accounts (guid, bank_guid, customer_guid, name, asset, account_kind, environment,
		institution_id, institution_name, account_mask, account_name, state, failure_code, created_at, updated_at,
		balance_updated_at, balance_available, balance_current, state_changed_at, synced_at)
		VALUES `+strings.Repeat(row+", ", len(accounts)-1)+row+`
		ON CONFLICT (guid) DO UPDATE SET
			bank_guid = excluded.bank_guid, customer_guid = excluded.customer_guid, name = excluded.name,
			asset = excluded.asset, account_kind = excluded.account_kind, environment = excluded.environment,
			institution_id = excluded.institution_id,
			institution_name = CASE WHEN excluded.institution_name <> '' THEN excluded.institution_name ELSE accounts.institution_name END,
			account_mask = excluded.account_mask, account_name = excluded.account_name,
			state = excluded.state, failure_code = excluded.failure_code, created_at = excluded.created_at,
			updated_at = excluded.updated_at,
			balance_updated_at = COALESCE(excluded.balance_updated_at, accounts.balance_updated_at),
			balance_available = CASE WHEN excluded.balance_updated_at IS NOT NULL THEN excluded.balance_available ELSE accounts.balance_available END,
			balance_current = CASE WHEN excluded.balance_updated_at IS NOT NULL THEN excluded.balance_current ELSE accounts.balance_current END,
			state_changed_at = CASE WHEN accounts.state <> excluded.state THEN excluded.state_changed_at ELSE accounts.state_changed_at END,
			synced_at = excluded.synced_at
		WHERE excluded.updated_at >= accounts.updated_at
			AND (accounts.updated_at <> excluded.updated_at OR accounts.state <> excluded.state
				OR excluded.balance_updated_at IS NOT NULL OR excluded.institution_name <> '')
		RETURNING guid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	saved := make(map[string]bool, len(accounts))
	for rows.Next() {
		var guid string
		if err := rows.Scan(&guid); err != nil {
			return nil, err
		}
		saved[guid] = true
	}
	return saved, rows.Err()
}

// accountStates returns the state held of each of accounts that is stored.
func accountStates(ctx context.Context, tx *sql.Tx, accounts []Account) (map[string]string, error) {
	const chunk = 500 // well under either engine's limit of bound values
	out := make(map[string]string, len(accounts))
	for start := 0; start < len(accounts); start += chunk {
		part := accounts[start:min(start+chunk, len(accounts))]
		args := make([]any, len(part))
		for i, a := range part {
			args[i] = a.GUID
		}
		rows, err := tx.QueryContext(ctx, `SELECT guid, state FROM accounts WHERE guid IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var guid, state string
			if err := rows.Scan(&guid, &state); err != nil {
				rows.Close()
				return nil, err
			}
			out[guid] = state
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Account returns one connection by guid, whoever owns it (admin use).
func (db *DB) Account(ctx context.Context, guid string) (_ Account, err error) {
	defer wrap(&err, "account")
	return scanAccount(db.queryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE guid = ?`, guid))
}

// CustomerAccount returns one connection only when it belongs to that customer;
// another customer's guid is ErrNotFound, exactly like a guid that does not exist.
func (db *DB) CustomerAccount(ctx context.Context, customerGUID, guid string) (_ Account, err error) {
	defer wrap(&err, "customer account")
	if customerGUID == "" {
		return Account{}, ErrNotFound
	}
	return scanCustomerAccount(db.queryRow(ctx, `SELECT `+customerAccountColumns+` FROM accounts WHERE guid = ? AND customer_guid = ?`, guid, customerGUID))
}

// CustomerAccounts lists a customer's connections, those that need attention first.
// Disconnected (deleted) connections stay listed until the customer hides them.
// The answer is shared through the read cache: do not modify it.
func (db *DB) CustomerAccounts(ctx context.Context, customerGUID string) (_ []Account, err error) {
	defer wrap(&err, "customer accounts")
	return cached(db, "accounts:"+customerGUID, func() ([]Account, error) {
		rows, err := db.query(ctx, `SELECT `+customerAccountColumns+` FROM accounts
			WHERE customer_guid = ? AND hidden_at IS NULL
			ORDER BY CASE state WHEN 'refresh_required' THEN 0 WHEN 'failed' THEN 1 WHEN 'unverified' THEN 2
				WHEN 'storing' THEN 3 WHEN 'deleting' THEN 4 WHEN 'completed' THEN 5 ELSE 6 END,
				institution_name, account_mask, guid`, customerGUID)
		if err != nil {
			return nil, err
		}
		return collect(rows, scanCustomerAccount)
	})
}

func collectAccounts(rows *sql.Rows) ([]Account, error) {
	return collect(rows, func(r rowScanner) (Account, error) { return scanAccount(r) })
}

// AccountGUIDsNotIn returns the guids of local accounts (not yet deleted) missing from seen
// and not saved since walkStart; sync uses it to notice accounts the platform
// no longer lists (an account saved during the walk, e.g. one just linked, is not one).
func (db *DB) AccountGUIDsNotIn(ctx context.Context, seen map[string]bool, walkStart time.Time) (_ []string, err error) {
	defer wrap(&err, "account guids not in")
	rows, err := db.query(ctx, `SELECT guid FROM accounts WHERE state <> 'deleted' AND synced_at < ?`, formatTime(walkStart))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return nil, err
		}
		if !seen[g] {
			out = append(out, g)
		}
	}
	return out, rows.Err()
}

// MarkAccountsDeleted records that the platform no longer lists these accounts.
func (db *DB) MarkAccountsDeleted(ctx context.Context, guids []string, source string) (_ []Transition, err error) {
	defer wrap(&err, "mark accounts deleted")
	var changes []Transition
	err = db.tx(ctx, func(tx *sql.Tx) error {
		changes = nil // db.tx may run this again after a conflict (PostgreSQL)
		now := formatTime(db.now())
		for _, g := range guids {
			var old, cust string
			err := tx.QueryRowContext(ctx, `SELECT state, COALESCE(customer_guid, '') FROM accounts WHERE guid = ?`, g).Scan(&old, &cust)
			if err != nil {
				return notFound(err)
			}
			if old == StateDeleted {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET state = 'deleted', state_changed_at = ?, synced_at = ? WHERE guid = ?`, now, now, g); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO state_changes (account_guid, from_state, to_state, source, at) VALUES (?, ?, 'deleted', ?, ?)`, g, old, source, now); err != nil {
				return err
			}
			if err := dismissOutdated(ctx, tx, g, StateDeleted, now); err != nil {
				return err
			}
			changes = append(changes, Transition{AccountGUID: g, CustomerGUID: cust, From: old, To: StateDeleted})
		}
		return nil
	})
	return changes, err
}

// StateCounts returns the number of connections in each state (kept by triggers).
func (db *DB) StateCounts(ctx context.Context) (_ map[string]int, err error) {
	defer wrap(&err, "state counts")
	rows, err := db.query(ctx, `SELECT state, n FROM account_state_counts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// StateChange is one entry of a connection's state history.
type StateChange struct {
	From, To, Source string
	At               time.Time
}

// StateChanges returns a connection's state history, oldest first.
func (db *DB) StateChanges(ctx context.Context, guid string) (_ []StateChange, err error) {
	defer wrap(&err, "state changes")
	rows, err := db.query(ctx, `SELECT from_state, to_state, source, at FROM state_changes WHERE account_guid = ? ORDER BY id`, guid)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r rowScanner) (c StateChange, _ error) {
		var at string
		if err := r.Scan(&c.From, &c.To, &c.Source, &at); err != nil {
			return c, err
		}
		c.At = parseTime(at)
		return c, nil
	})
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// HideAccount takes one of a customer's disconnected connections off their
// list. Another customer's guid, or a connection that is not disconnected, is ErrNotFound.
func (db *DB) HideAccount(ctx context.Context, customerGUID, guid string) (err error) {
	defer wrap(&err, "hide account")
	if customerGUID == "" {
		return ErrNotFound
	}
	res, err := db.write.ExecContext(ctx, `UPDATE accounts SET hidden_at = COALESCE(hidden_at, ?)
		WHERE guid = ? AND customer_guid = ? AND state = 'deleted'`, formatTime(db.now()), guid, customerGUID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
