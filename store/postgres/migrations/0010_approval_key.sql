-- 0010: the API key an approval was decided with
-- (Approval.DecidedByKey): an approved approval allows nothing once it
-- is revoked, suspended or expired. Empty in the approvals decided
-- before this column existed, which are bound to their approver's agent
-- alone. A constant default: PostgreSQL adds the column without
-- rewriting the table.
ALTER TABLE approvals ADD COLUMN decided_by_key TEXT NOT NULL DEFAULT '';
