-- PostgreSQL only, applied right after migrations/0006_transfer_states.sql
-- (translated) in the same transaction.

-- The rebuild copied the rows with their ids into an identity column, which
-- does not move its sequence: set it past the largest copied id, so the next
-- transfer does not take an id in use. (A PostgreSQL database runs 0001 to
-- the last in one start, so the table is empty here in practice; this keeps
-- the rebuild right regardless.)
SELECT setval(pg_get_serial_sequence('transfers', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM transfers;

-- SQLite's RENAME leaves nothing named after transfers_new; here the
-- constraints and the sequence keep their names: give them the ones a table
-- created as transfers has.
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_pkey TO transfers_pkey;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_idempotency_key_key TO transfers_idempotency_key_key;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_quote_guid_key TO transfers_quote_guid_key;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_transfer_guid_key TO transfers_transfer_guid_key;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_amount_check TO transfers_amount_check;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_rail_check TO transfers_rail_check;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_side_check TO transfers_side_check;
ALTER TABLE transfers RENAME CONSTRAINT transfers_new_state_check TO transfers_state_check;
ALTER SEQUENCE transfers_new_id_seq RENAME TO transfers_id_seq;
