-- 0009: the uses a grant was made with (Grant.Uses), which the client
-- holds to the rule's remember_uses as it stands. 0 in the grants made
-- before this column existed, whose uses left are the most they are
-- known to have been made with. A constant default: PostgreSQL adds the
-- column without rewriting the table.
ALTER TABLE grants ADD COLUMN uses BIGINT NOT NULL DEFAULT 0;
