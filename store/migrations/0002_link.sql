-- A Link session: one click on "Link a bank account" or "Reconnect", from the
-- platform workflow that fetches the link token to the completion.
CREATE TABLE link_sessions (
    id             TEXT PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id),
    customer_guid  TEXT,            -- NULL: the organization's own (bank-level) connection
    mode           TEXT NOT NULL CHECK (mode IN ('create', 'update')),
    account_guid   TEXT,            -- update mode: the connection being reconnected
    workflow_guid  TEXT,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed', 'completed', 'exited')),
    link_token     TEXT,
    token_expires_at TEXT,
    message        TEXT NOT NULL DEFAULT '',
    credentials_submitted INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX link_sessions_user ON link_sessions(user_id, created_at);

-- Every Link callback the browser reported (onEvent, onExit, onSuccess).
CREATE TABLE link_events (
    id               INTEGER PRIMARY KEY,
    link_session_id  TEXT NOT NULL REFERENCES link_sessions(id),
    account_guid     TEXT,
    kind             TEXT NOT NULL,   -- event, exit, success
    event_name       TEXT NOT NULL DEFAULT '',
    view_name        TEXT NOT NULL DEFAULT '',
    error_code       TEXT NOT NULL DEFAULT '',
    error_type       TEXT NOT NULL DEFAULT '',
    exit_status      TEXT NOT NULL DEFAULT '',
    institution_id   TEXT NOT NULL DEFAULT '',
    plaid_link_session_id TEXT NOT NULL DEFAULT '',
    request_id       TEXT NOT NULL DEFAULT '',
    at               TEXT NOT NULL
);
CREATE INDEX link_events_session ON link_events(link_session_id, id);
CREATE INDEX link_events_account ON link_events(account_guid, id);

-- A finished Link flow whose platform call must happen exactly once: written
-- before the platform is called, retried by a worker until done or expired.
CREATE TABLE completions (
    id               INTEGER PRIMARY KEY,
    link_session_id  TEXT NOT NULL UNIQUE REFERENCES link_sessions(id),
    customer_guid    TEXT,
    mode             TEXT NOT NULL CHECK (mode IN ('create', 'update')),
    account_guid     TEXT,            -- update: the target; create: set once the platform answers
    public_token     TEXT,            -- create only; erased once done or expired
    plaid_account_id TEXT NOT NULL DEFAULT '',
    institution_id   TEXT NOT NULL DEFAULT '',
    institution_name TEXT NOT NULL DEFAULT '',
    account_name     TEXT NOT NULL DEFAULT '',
    account_mask     TEXT NOT NULL DEFAULT '',
    selected_accounts TEXT NOT NULL DEFAULT '[]', -- JSON: the accounts Link reported as shared (update with account selection)
    state            TEXT NOT NULL CHECK (state IN ('queued', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    outcome_unknown  INTEGER NOT NULL DEFAULT 0, -- a create POST may have reached the platform
    next_attempt_at  TEXT NOT NULL,
    expires_at       TEXT,            -- create: the public token's end of life
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX completions_due ON completions(state, next_attempt_at);
CREATE INDEX completions_customer ON completions(customer_guid, state);
