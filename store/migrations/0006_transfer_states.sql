-- The platform has seven transfer states, not four: holding, reviewing and
-- cancelling are accepted too (a transfer in them keeps being polled). A
-- funding quote may come without an expiry: quote_expires_at is NULL then.
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt.
-- The rebuild restates 0004's columns on purpose: a migration is history,
-- applied in the field by its name, so neither file is rewritten to share them.
CREATE TABLE transfers_new (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    customer_guid    TEXT NOT NULL,
    account_guid     TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('deposit', 'withdrawal')),
    rail             TEXT NOT NULL CHECK (rail IN ('ach', 'wire')),
    amount           INTEGER NOT NULL CHECK (amount > 0),  -- cents
    fee              INTEGER NOT NULL DEFAULT 0,
    quote_guid       TEXT NOT NULL UNIQUE,
    quote_expires_at TEXT,
    transfer_guid    TEXT UNIQUE,
    state            TEXT NOT NULL CHECK (state IN ('quoted', 'submitting', 'storing', 'pending', 'holding', 'reviewing',
                                                    'completed', 'failed', 'cancelling')),
    failure_code     TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
INSERT INTO transfers_new SELECT id, idempotency_key, customer_guid, account_guid, side, rail, amount, fee, quote_guid,
    quote_expires_at, transfer_guid, state, failure_code, created_at, updated_at FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_new RENAME TO transfers;
CREATE INDEX transfers_customer ON transfers(customer_guid, id DESC) WHERE state <> 'quoted';
CREATE INDEX transfers_account ON transfers(account_guid, id DESC) WHERE state <> 'quoted';
CREATE INDEX transfers_open ON transfers(state, updated_at)
    WHERE state IN ('submitting', 'storing', 'pending', 'holding', 'reviewing', 'cancelling');
