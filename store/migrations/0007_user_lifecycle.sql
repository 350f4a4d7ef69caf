-- A disabled user cannot sign in; disabling revokes the user's sessions.
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- Link results refused before their handler ran (the session had ended, or
-- its CSRF token no longer matched): Link cannot give them again, so they
-- wait here for the next sign-in of the link session's owner.
CREATE TABLE kept_link_results (
    link_session_id TEXT PRIMARY KEY REFERENCES link_sessions(id),
    result          TEXT NOT NULL, -- JSON of the decoded Link result
    created_at      TEXT NOT NULL
) WITHOUT ROWID;
