-- PostgreSQL only, applied right after migrations/0001_init.sql (translated)
-- in the same transaction: what PostgreSQL does instead of SQLite.

-- Emails are unique and looked up regardless of case. SQLite's column is
-- UNIQUE COLLATE NOCASE; here the uniqueness is on lower(email), and
-- UserByEmail looks up by lower(email) to use it.
ALTER TABLE users DROP CONSTRAINT users_email_key;
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- The per-state counts, kept by statement-level triggers with transition
-- tables instead of SQLite's row triggers: one UPDATE per statement and
-- state, not per row (a bulk load of a million rows in one transaction would
-- otherwise pile up row versions of these seven rows).
CREATE FUNCTION accounts_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_state_counts c SET n = c.n + d.k
    FROM (SELECT state, COUNT(*) AS k FROM new_rows GROUP BY state) d WHERE c.state = d.state;
    RETURN NULL;
END;
$$;
CREATE FUNCTION accounts_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_state_counts c SET n = c.n - d.k
    FROM (SELECT state, COUNT(*) AS k FROM old_rows GROUP BY state) d WHERE c.state = d.state;
    RETURN NULL;
END;
$$;
CREATE FUNCTION accounts_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_state_counts c SET n = c.n + d.k
    FROM (SELECT state, SUM(k) AS k FROM (
            SELECT o.state, -1 AS k FROM old_rows o JOIN new_rows w ON w.guid = o.guid WHERE o.state <> w.state
            UNION ALL
            SELECT w.state, 1 AS k FROM old_rows o JOIN new_rows w ON w.guid = o.guid WHERE o.state <> w.state
          ) moves GROUP BY state) d
    WHERE c.state = d.state AND d.k <> 0;
    RETURN NULL;
END;
$$;
CREATE TRIGGER accounts_count_insert AFTER INSERT ON accounts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_count_insert();
CREATE TRIGGER accounts_count_delete AFTER DELETE ON accounts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_count_delete();
CREATE TRIGGER accounts_count_update AFTER UPDATE ON accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_count_update();
