-- Funding transfers the portal made for its customers. A row starts when the
-- customer is shown a quote ("quoted", with the idempotency key its confirm
-- form carries); confirming claims the row once, so a double submit sends one
-- transfer. transfer_guid is the platform's, once it answered.
CREATE TABLE transfers (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    customer_guid    TEXT NOT NULL,
    account_guid     TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('deposit', 'withdrawal')),
    rail             TEXT NOT NULL CHECK (rail IN ('ach', 'wire')),
    amount           INTEGER NOT NULL CHECK (amount > 0),  -- cents
    fee              INTEGER NOT NULL DEFAULT 0,
    quote_guid       TEXT NOT NULL UNIQUE,
    quote_expires_at TEXT NOT NULL,
    transfer_guid    TEXT UNIQUE,
    state            TEXT NOT NULL CHECK (state IN ('quoted', 'submitting', 'storing', 'pending', 'completed', 'failed')),
    failure_code     TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX transfers_customer ON transfers(customer_guid, id DESC) WHERE state <> 'quoted';
CREATE INDEX transfers_account ON transfers(account_guid, id DESC) WHERE state <> 'quoted';
CREATE INDEX transfers_open ON transfers(state, updated_at) WHERE state IN ('submitting', 'storing', 'pending');
