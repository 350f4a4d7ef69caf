-- Users of the portal: the bank's customers (each tied to a platform customer guid) and admins.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    customer_guid       TEXT UNIQUE,
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    CHECK (role = 'admin' OR customer_guid IS NOT NULL)
);

-- Server-side sessions: the cookie holds only the id; logout and password changes revoke here.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- The local copy of the platform's external bank accounts.
CREATE TABLE accounts (
    guid                TEXT PRIMARY KEY,
    bank_guid           TEXT NOT NULL,
    customer_guid       TEXT,
    name                TEXT NOT NULL,
    asset               TEXT NOT NULL,
    account_kind        TEXT NOT NULL,
    environment         TEXT NOT NULL,
    institution_id      TEXT NOT NULL DEFAULT '',
    institution_name    TEXT NOT NULL DEFAULT '',
    account_mask        TEXT NOT NULL DEFAULT '',
    account_name        TEXT,
    state               TEXT NOT NULL CHECK (state IN ('storing','completed','unverified','failed','refresh_required','deleting','deleted')),
    failure_code        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    balance_updated_at  TEXT,
    balance_available   INTEGER,
    balance_current     INTEGER,
    state_changed_at    TEXT NOT NULL,
    synced_at           TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX accounts_customer ON accounts(customer_guid, state);
CREATE INDEX accounts_changed ON accounts(state_changed_at DESC, guid DESC);
CREATE INDEX accounts_state_changed ON accounts(state, state_changed_at DESC, guid DESC);
CREATE INDEX accounts_institution_changed ON accounts(institution_id, state_changed_at DESC, guid DESC);
CREATE INDEX accounts_customer_changed ON accounts(customer_guid, state_changed_at DESC, guid DESC);

-- Counts per state, kept by triggers so the admin tab never counts a million rows per request.
CREATE TABLE account_state_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO account_state_counts (state, n) VALUES
    ('storing',0),('completed',0),('unverified',0),('failed',0),('refresh_required',0),('deleting',0),('deleted',0);
-- sqlite only: row triggers (PostgreSQL counts per statement: migrations/postgres/0001_init.sql)
CREATE TRIGGER accounts_count_insert AFTER INSERT ON accounts BEGIN
    UPDATE account_state_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER accounts_count_delete AFTER DELETE ON accounts BEGIN
    UPDATE account_state_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER accounts_count_update AFTER UPDATE OF state ON accounts WHEN OLD.state <> NEW.state BEGIN
    UPDATE account_state_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE account_state_counts SET n = n + 1 WHERE state = NEW.state;
END;
-- end sqlite only

-- Every observed state transition of a connection (the timeline's backbone).
CREATE TABLE state_changes (
    id           INTEGER PRIMARY KEY,
    account_guid TEXT NOT NULL,
    from_state   TEXT NOT NULL DEFAULT '',
    to_state     TEXT NOT NULL,
    source       TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX state_changes_account ON state_changes(account_guid, id);

-- In-app notifications (banners) for customers.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    customer_guid TEXT NOT NULL,
    account_guid  TEXT,
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    dismissed_at  TEXT
);
CREATE INDEX notifications_customer ON notifications(customer_guid, dismissed_at);

-- Health of background jobs, e.g. the last successful sync, for an honest "last updated".
CREATE TABLE job_status (
    name         TEXT PRIMARY KEY,
    last_ok_at   TEXT,
    last_try_at  TEXT,
    last_error   TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
