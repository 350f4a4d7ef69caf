-- settings holds the simulated bank's identity: guid, credentials, token signing key.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE customers (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	guid          TEXT NOT NULL UNIQUE,
	bank_guid     TEXT NOT NULL,
	type          TEXT NOT NULL,
	state         TEXT NOT NULL,
	first_name    TEXT,
	last_name     TEXT,
	full_name     TEXT,
	email_address TEXT,
	created_at    INTEGER NOT NULL, -- unix milliseconds
	updated_at    INTEGER NOT NULL
);
CREATE INDEX customers_bank ON customers (bank_guid, seq);

-- seq orders lists newest first; pinned stops the simulator's own transitions
-- after a sandbox pin.
CREATE TABLE external_bank_accounts (
	seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
	guid                 TEXT NOT NULL UNIQUE,
	name                 TEXT NOT NULL,
	asset                TEXT NOT NULL,
	account_kind         TEXT NOT NULL,
	environment          TEXT NOT NULL,
	bank_guid            TEXT NOT NULL,
	customer_guid        TEXT REFERENCES customers (guid),
	counterparty_guid    TEXT,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL,
	plaid_institution_id TEXT NOT NULL,
	plaid_account_mask   TEXT NOT NULL,
	plaid_account_name   TEXT,
	state                TEXT NOT NULL,
	failure_code         TEXT,
	balance_updated_at   INTEGER,
	balance_available    INTEGER,
	balance_current      INTEGER,
	plaid_access_token   TEXT NOT NULL DEFAULT '', -- empty for seeded accounts (no Item)
	plaid_item_id        TEXT NOT NULL DEFAULT '',
	plaid_account_id     TEXT NOT NULL DEFAULT '',
	pinned               INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_bank ON external_bank_accounts (bank_guid, seq);
CREATE INDEX accounts_bank_state ON external_bank_accounts (bank_guid, state, seq);
CREATE INDEX accounts_customer ON external_bank_accounts (customer_guid, seq);
CREATE INDEX accounts_customer_state ON external_bank_accounts (customer_guid, state, seq);
CREATE INDEX accounts_item ON external_bank_accounts (plaid_item_id) WHERE plaid_item_id <> '';
CREATE INDEX accounts_work ON external_bank_accounts (state) WHERE state IN ('storing', 'deleting');

CREATE TABLE workflows (
	seq                        INTEGER PRIMARY KEY AUTOINCREMENT,
	guid                       TEXT NOT NULL UNIQUE,
	bank_guid                  TEXT NOT NULL,
	customer_guid              TEXT REFERENCES customers (guid),
	type                       TEXT NOT NULL,
	kind                       TEXT NOT NULL,
	language                   TEXT NOT NULL,
	link_customization_name    TEXT NOT NULL,
	redirect_uri               TEXT NOT NULL,
	external_bank_account_guid TEXT,
	state                      TEXT NOT NULL,
	failure_code               TEXT,
	plaid_link_token           TEXT,
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL
);
CREATE INDEX workflows_bank ON workflows (bank_guid, seq);
CREATE INDEX workflows_customer ON workflows (customer_guid, seq);

-- webhook_deliveries dedupes Plaid's webhook retries.
CREATE TABLE webhook_deliveries (
	id          TEXT PRIMARY KEY,
	received_at INTEGER NOT NULL
);
