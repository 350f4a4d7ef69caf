-- accounts_customer (customer_guid, state) is a prefix of
-- accounts_customer_state_changed: every query it served uses that one, and
-- each sync write paid for both.
DROP INDEX IF EXISTS accounts_customer;
