-- The admin bank-connections tab: indexes for every filter combination, the
-- audit log of admin actions, on-demand refresh jobs and the email outbox.

-- Bank-level (organization's own) connections have no customer; partial
-- indexes keep "bank-level only" and its combinations an index walk.
CREATE INDEX accounts_bank_changed ON accounts(state_changed_at DESC, guid DESC) WHERE customer_guid IS NULL;
CREATE INDEX accounts_bank_state_changed ON accounts(state, state_changed_at DESC, guid DESC) WHERE customer_guid IS NULL;
CREATE INDEX accounts_bank_institution_changed ON accounts(institution_id, state_changed_at DESC, guid DESC) WHERE customer_guid IS NULL;
-- A customer's connections in one state, in order.
CREATE INDEX accounts_customer_state_changed ON accounts(customer_guid, state, state_changed_at DESC, guid DESC);
-- State and institution together (e.g. every expired connection at one bank).
CREATE INDEX accounts_state_institution_changed ON accounts(state, institution_id, state_changed_at DESC, guid DESC);

-- Who did what to which connection, when, and how it ended.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    actor_user_id INTEGER REFERENCES users(id),
    actor_email   TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    account_guid  TEXT,
    result        TEXT NOT NULL CHECK (result IN ('ok', 'failed', 'started', 'refused')),
    detail        TEXT NOT NULL DEFAULT '',
    ref           TEXT NOT NULL DEFAULT ''   -- e.g. the Link session an action belongs to
);
CREATE INDEX audit_log_account ON audit_log(account_guid, id);
CREATE INDEX audit_log_ref ON audit_log(ref, id) WHERE ref <> '';

-- On-demand refreshes: slow platform calls that run off the request path.
CREATE TABLE refresh_jobs (
    id            INTEGER PRIMARY KEY,
    account_guid  TEXT NOT NULL,
    requested_by  INTEGER REFERENCES users(id),
    state         TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    message       TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    finished_at   TEXT
);
CREATE INDEX refresh_jobs_account ON refresh_jobs(account_guid, id);
CREATE UNIQUE INDEX refresh_jobs_one_running ON refresh_jobs(account_guid) WHERE state = 'running';

-- Emails waiting for (or done with) the SMTP worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    account_guid    TEXT,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_state ON outbox(state, id);
CREATE INDEX outbox_account ON outbox(account_guid, id);

CREATE INDEX notifications_account ON notifications(account_guid, id);
