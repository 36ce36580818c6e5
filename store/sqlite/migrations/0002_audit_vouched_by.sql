-- 0002: who vouched for a check.
-- The key id of the admin credential that vouched for a check made
-- without a credential of the agent's own; empty otherwise.
ALTER TABLE audit ADD COLUMN vouched_by TEXT NOT NULL DEFAULT '';
