-- Several portal instances may share one database: work is held by whoever
-- holds its lease, until the lease runs out. (Same as the SQLite migration.)

CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TEXT NOT NULL
);

ALTER TABLE refresh_jobs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_jobs ADD COLUMN lease_until TEXT;

CREATE TABLE login_failures (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('pair', 'addr', 'email')),
    key   TEXT NOT NULL,
    at    TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(scope, key, at);
CREATE INDEX login_failures_at ON login_failures(at);
