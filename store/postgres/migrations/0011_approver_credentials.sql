-- 0011: the ids of the credential derived from the approver's key that
-- an approval was decided, or a grant made, with (the token or JWT id,
-- then its delegation hops; Approval.DecidedByCredentials,
-- Grant.CreatedByCredentials): either allows nothing once any of them is
-- revoked. NULL when the key itself decided, and in the rows written
-- before these columns existed, which are bound to their approver's
-- agent and key alone. Nullable without a default: PostgreSQL adds the
-- columns without rewriting the tables.
ALTER TABLE approvals ADD COLUMN decided_by_credentials TEXT[];
ALTER TABLE grants ADD COLUMN created_by_credentials TEXT[];
