-- 0010: the ids of the credential derived from the approver's key that
-- an approval was decided, or a grant made, with (the token or JWT id,
-- then its delegation hops; Approval.DecidedByCredentials,
-- Grant.CreatedByCredentials), as a list: either allows nothing once any
-- of them is revoked. NULL when the key itself decided, and in the rows
-- written before these columns existed, which are bound to their
-- approver's agent and key alone. Columns added last and nullable: MySQL
-- 8 adds them in place (INSTANT). Run again after a crash before the
-- version was recorded, a column is found to exist (error 1060), which
-- migrate counts as done.
ALTER TABLE {p}approvals ADD COLUMN decided_by_credentials BLOB NULL;
ALTER TABLE {p}grants ADD COLUMN created_by_credentials BLOB NULL;
