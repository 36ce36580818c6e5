-- 0003: the request that asked for a check.
-- The request id (a server's X-Request-Id) of the check a record
-- decided. NULL in the records written before this column existed, as
-- good as empty: the store reads both as no request id. A column added
-- last and nullable: MySQL 8 adds it in place (INSTANT), without copying
-- the table. Run again after a crash before the version was recorded,
-- the column is found to exist (error 1060), which migrate counts as
-- done.
ALTER TABLE {p}audit ADD COLUMN request_id BLOB NULL;
