-- Funding quotes and transfers. A quote is executed at most once: the
-- transfer that uses it holds its guid, UNIQUE.
CREATE TABLE quotes (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	guid           TEXT NOT NULL UNIQUE,
	bank_guid      TEXT NOT NULL,
	customer_guid  TEXT NOT NULL REFERENCES customers (guid),
	product_type   TEXT NOT NULL,
	side           TEXT NOT NULL,
	asset          TEXT NOT NULL,
	receive_amount INTEGER NOT NULL,
	deliver_amount INTEGER NOT NULL,
	fee            INTEGER NOT NULL,
	issued_at      INTEGER NOT NULL, -- unix milliseconds
	expires_at     INTEGER NOT NULL
);
CREATE INDEX quotes_customer ON quotes (customer_guid, seq);

-- next_at is when the simulator moves a storing or pending transfer on;
-- reads move overdue ones too, so a restart leaves nothing stuck.
CREATE TABLE transfers (
	seq                        INTEGER PRIMARY KEY AUTOINCREMENT,
	guid                       TEXT NOT NULL UNIQUE,
	bank_guid                  TEXT NOT NULL,
	customer_guid              TEXT NOT NULL REFERENCES customers (guid),
	quote_guid                 TEXT NOT NULL UNIQUE REFERENCES quotes (guid),
	external_bank_account_guid TEXT NOT NULL REFERENCES external_bank_accounts (guid),
	transfer_type              TEXT NOT NULL,
	asset                      TEXT NOT NULL,
	side                       TEXT NOT NULL,
	state                      TEXT NOT NULL,
	failure_code               TEXT,
	amount                     INTEGER NOT NULL,
	fee                        INTEGER NOT NULL,
	payment_rail               TEXT NOT NULL,
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL,
	next_at                    INTEGER
);
CREATE INDEX transfers_bank ON transfers (bank_guid, seq);
CREATE INDEX transfers_customer ON transfers (customer_guid, seq);
CREATE INDEX transfers_work ON transfers (next_at) WHERE state IN ('storing', 'pending');
