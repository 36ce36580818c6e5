-- 0008: the uses a grant was made with (Grant.Uses), which the client
-- holds to the rule's remember_uses as it stands. NULL in the grants
-- made before this column existed, read as 0: their uses left are the
-- most they are known to have been made with. A column added last and
-- nullable: MySQL 8 adds it in place (INSTANT). Run again after a crash
-- before the version was recorded, the column is found to exist (error
-- 1060), which migrate counts as done.
ALTER TABLE {p}grants ADD COLUMN uses BIGINT NULL;
