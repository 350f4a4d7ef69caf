-- Several portal instances may share one database: work is held by whoever
-- holds its lease, until the lease runs out.

-- Named leases: one holder at a time (e.g. "sync": one walk of the platform
-- per interval across every instance).
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TEXT NOT NULL
);

-- A running on-demand refresh belongs to the instance that runs it; it renews
-- lease_until while it runs. A job whose lease ran out was left by an
-- instance that stopped (jobs from before this migration have none).
ALTER TABLE refresh_jobs ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_jobs ADD COLUMN lease_until TEXT;

-- Failed sign-ins, counted by every instance (keys are hashes of the email,
-- the address, or both; rows older than the throttle's window are deleted).
CREATE TABLE login_failures (
    id    INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('pair', 'addr', 'email')),
    key   TEXT NOT NULL,
    at    TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(scope, key, at);
CREATE INDEX login_failures_at ON login_failures(at);
