-- 0007: the API key a grant's approver decided with (Grant.CreatedByKey):
-- the grant ends with it. NULL in the grants made before this column
-- existed, as good as empty: those are bound to their approver's agent
-- alone. A column added last and nullable: MySQL 8 adds it in place
-- (INSTANT). Run again after a crash before the version was recorded,
-- the column is found to exist (error 1060), which migrate counts as
-- done.
ALTER TABLE {p}grants ADD COLUMN created_by_key BLOB NULL;
