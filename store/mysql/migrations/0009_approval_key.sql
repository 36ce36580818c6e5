-- 0009: the API key an approval was decided with
-- (Approval.DecidedByKey): an approved approval allows nothing once it
-- is revoked, suspended or expired. NULL in the approvals decided before
-- this column existed, as good as empty: those are bound to their
-- approver's agent alone. A column added last and nullable: MySQL 8 adds
-- it in place (INSTANT). Run again after a crash before the version was
-- recorded, the column is found to exist (error 1060), which migrate
-- counts as done.
ALTER TABLE {p}approvals ADD COLUMN decided_by_key BLOB NULL;
