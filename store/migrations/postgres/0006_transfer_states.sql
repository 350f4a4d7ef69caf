-- PostgreSQL only, applied right after migrations/0006_transfer_states.sql
-- (translated) in the same transaction. The rebuild copied the rows with
-- their ids into an identity column, which does not move its sequence: set
-- it past the largest copied id, so the next transfer does not take an id in
-- use. (A PostgreSQL database runs 0001 to the last in one start, so the
-- table is empty here in practice; this keeps the rebuild right regardless.)
SELECT setval(pg_get_serial_sequence('transfers', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM transfers;
