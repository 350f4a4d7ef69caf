-- The admin filter lists the distinct institutions with a name for each, and
-- the sync looks for institutions some connection has no name for: both read
-- this index alone instead of every account row.
CREATE INDEX accounts_institution_name ON accounts(institution_id, institution_name);
